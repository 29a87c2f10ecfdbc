"""Device-side claim windows and the claim decision, through the services, on every backend.

Reference: thingsboard.md §2.2 (windows), §2.3 (decision table), §6 (ThingsBoard's own skeleton and
the derived scenarios), issue #2 §4 (an expired window is replaced by the next device message).
"""

from __future__ import annotations

import pytest

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage, parse_device_claim
from claimd.domain.errors import NotFound
from claimd.domain.model import AuditAction, Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000


async def test_device_side_flow_claim_reclaim_and_claim_again(world, container, store_probe):
    claims = container.claims
    device = await world.device("Flow device")

    assert await claims.open_window(device, DeviceClaimMessage("value", MINUTE), DEVICE) is WindowResult.OPENED
    assert await store_probe.stored_window(container, device.id)

    result = await claims.claim(world.u1, "Flow device", "value", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.id == device.id
    assert result.device.customer_id == world.c1.id
    assert (await container.devices.get(world.admin, device.id)).customer_id == world.c1.id
    assert not await store_probe.stored_window(container, device.id)  # spent

    again = await claims.claim(world.u1, "Flow device", "value", REST)
    assert again.response is ClaimResponse.CLAIMED
    assert again.device.customer_id == world.c1.id

    released = await claims.reclaim(world.u1, "Flow device", REST)
    assert released.customer_id is None
    assert (await container.devices.get(world.admin, device.id)).customer_id is None

    # unassigned again, no window: nothing to prove the claim with
    assert (await claims.claim(world.u2, "Flow device", "value", REST)).response is ClaimResponse.FAILURE

    assert await claims.open_window(device, DeviceClaimMessage("other", MINUTE), DEVICE) is WindowResult.OPENED
    result = await claims.claim(world.u2, "Flow device", "other", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c2.id
    assert (await container.devices.get(world.admin, device.id)).customer_id == world.c2.id


async def test_thingsboard_skeleton_expired_window_then_good_window(world, container, clock, store_probe):
    """§6 validateClaimResponse: FAILURE payload (1 ms), claim FAILURE, GOOD payload, SUCCESS, CLAIMED."""
    claims = container.claims
    device = await world.device("Test Claim device")

    assert await claims.open_window(device, DeviceClaimMessage("value", 1), DEVICE) is WindowResult.OPENED
    clock.advance(2)
    assert (await claims.claim(world.u1, device.name, "value", REST)).response is ClaimResponse.FAILURE
    assert not await store_probe.stored_window(container, device.id)  # the failed attempt evicted it

    assert await claims.open_window(device, DeviceClaimMessage("value", MINUTE), DEVICE) is WindowResult.OPENED
    result = await claims.claim(world.u1, device.name, "value", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert (await claims.claim(world.u1, device.name, "value", REST)).response is ClaimResponse.CLAIMED


async def test_thingsboard_skeleton_without_secret_and_duration(world, container, clock):
    """§6 #2/#10: FAILURE payload {"durationMs":1}; GOOD payload {} → secret "" and the default duration."""
    claims = container.claims
    device = await world.device()

    assert await claims.open_window(device, parse_device_claim(b'{"durationMs":1}'), DEVICE) is WindowResult.OPENED
    clock.advance(2)
    assert (await claims.claim(world.u1, device.name, "", REST)).response is ClaimResponse.FAILURE

    message = parse_device_claim(b"{}")
    assert message == DeviceClaimMessage("", 0)
    assert await claims.open_window(device, message, DEVICE) is WindowResult.OPENED
    # the default duration (claim_duration_ms = 24 h) applies: still valid just before it ends
    clock.advance(container.settings.claim_duration_ms - 1)
    result = await claims.claim(world.u1, device.name, "", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert (await claims.claim(world.u1, device.name, "", REST)).response is ClaimResponse.CLAIMED


async def test_default_duration_expires(world, container, clock):
    claims = container.claims
    device = await world.device()
    assert await claims.open_window(device, DeviceClaimMessage("", 0), DEVICE) is WindowResult.OPENED
    clock.advance(container.settings.claim_duration_ms + 1)
    assert (await claims.claim(world.u1, device.name, "", REST)).response is ClaimResponse.FAILURE


async def test_expiry_is_strict_equal_time_still_valid(world, container, clock):
    claims = container.claims
    device = await world.device()
    assert await claims.open_window(device, DeviceClaimMessage("k", 1000), DEVICE) is WindowResult.OPENED
    clock.advance(1000)  # now == expirationTime: still live (expired only when now > expirationTime)
    assert await claims.open_window(device, DeviceClaimMessage("x", 1000), DEVICE) is WindowResult.KEPT
    assert (await claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.SUCCESS


async def test_live_window_is_kept_and_expired_window_replaced(world, container, clock):
    claims = container.claims
    kept = await world.device()
    assert await claims.open_window(kept, DeviceClaimMessage("first", MINUTE), DEVICE) is WindowResult.OPENED
    clock.advance(1000)
    assert await claims.open_window(kept, DeviceClaimMessage("second", 10 * MINUTE), DEVICE) is WindowResult.KEPT
    # the second message changed nothing: the first key works, and within the first window's time
    result = await claims.claim(world.u1, kept.name, "first", REST)
    assert result.response is ClaimResponse.SUCCESS

    replaced = await world.device()
    assert await claims.open_window(replaced, DeviceClaimMessage("first", MINUTE), DEVICE) is WindowResult.OPENED
    clock.advance(MINUTE + 1)  # the first window is now expired (but still stored)
    assert await claims.open_window(replaced, DeviceClaimMessage("second", MINUTE), DEVICE) is WindowResult.OPENED
    # the new window carries the new key and a new expiry
    clock.advance(MINUTE // 2)
    assert (await claims.claim(world.u1, replaced.name, "second", REST)).response is ClaimResponse.SUCCESS

    stale = await world.device()
    assert await claims.open_window(stale, DeviceClaimMessage("first", MINUTE), DEVICE) is WindowResult.OPENED
    clock.advance(MINUTE + 1)
    assert await claims.open_window(stale, DeviceClaimMessage("second", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await claims.claim(world.u1, stale.name, "first", REST)).response is ClaimResponse.FAILURE


async def test_wrong_key_fails_and_spends_the_window(world, container, store_probe):
    claims = container.claims
    device = await world.device()
    assert await claims.open_window(device, DeviceClaimMessage("Secret", MINUTE), DEVICE) is WindowResult.OPENED

    assert (await claims.claim(world.u1, device.name, "secret", REST)).response is ClaimResponse.FAILURE  # case matters
    assert not await store_probe.stored_window(container, device.id)
    assert (await claims.claim(world.u1, device.name, "Secret", REST)).response is ClaimResponse.FAILURE
    assert (await container.devices.get(world.admin, device.id)).customer_id is None

    # the spent window no longer blocks a new one
    assert await claims.open_window(device, DeviceClaimMessage("Secret", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await claims.claim(world.u1, device.name, "Secret", REST)).response is ClaimResponse.SUCCESS


async def test_empty_key_matches_only_empty_key(world, container):
    claims = container.claims
    device = await world.device()
    assert await claims.open_window(device, DeviceClaimMessage("", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await claims.claim(world.u1, device.name, "value", REST)).response is ClaimResponse.FAILURE

    other = await world.device()
    assert await claims.open_window(other, DeviceClaimMessage("value", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await claims.claim(world.u1, other.name, "", REST)).response is ClaimResponse.FAILURE


async def test_no_claim_data(world, container, clock):
    claims = container.claims
    unassigned = await world.device()
    assert (await claims.claim(world.u1, unassigned.name, "", REST)).response is ClaimResponse.FAILURE
    assert (await container.devices.get(world.admin, unassigned.id)).customer_id is None

    assigned = await world.device()
    await container.devices.assign(world.admin, world.c2.id, assigned.id, REST)
    result = await claims.claim(world.u1, assigned.name, "", REST)
    assert result.response is ClaimResponse.CLAIMED
    assert (await container.devices.get(world.admin, assigned.id)).customer_id == world.c2.id


async def test_expiry_and_key_are_checked_before_ownership(world, container, clock):
    claims = container.claims
    devices = container.devices

    expired = await world.device()
    assert await claims.open_window(expired, DeviceClaimMessage("k", 1000), DEVICE) is WindowResult.OPENED
    await devices.assign(world.admin, world.c2.id, expired.id, REST)
    clock.advance(1001)
    assert (await claims.claim(world.u1, expired.name, "k", REST)).response is ClaimResponse.FAILURE

    wrong_key = await world.device()
    assert await claims.open_window(wrong_key, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    await devices.assign(world.admin, world.c2.id, wrong_key.id, REST)
    assert (await claims.claim(world.u1, wrong_key.name, "nope", REST)).response is ClaimResponse.FAILURE

    valid = await world.device()
    assert await claims.open_window(valid, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    await devices.assign(world.admin, world.c2.id, valid.id, REST)
    assert (await claims.claim(world.u1, valid.name, "k", REST)).response is ClaimResponse.CLAIMED
    for device in (expired, wrong_key, valid):
        assert (await devices.get(world.admin, device.id)).customer_id == world.c2.id


async def test_window_of_an_assigned_device_is_refused_and_audited(world, container, store_probe):
    claims = container.claims
    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, REST)

    verdict = await claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE)
    assert verdict is WindowResult.ALREADY_CLAIMED
    assert not await store_probe.stored_window(container, device.id)

    log = await container.devices.audit_log(world.admin, 0, 100, device.id)
    refusals = [e for e in log.data if e.action is AuditAction.CLAIM_WINDOW]
    assert len(refusals) == 1
    entry = refusals[0]
    assert entry.outcome == WindowResult.ALREADY_CLAIMED.value
    assert entry.door is Door.HTTP_DEVICE
    assert entry.device_id == device.id and entry.device_name == device.name
    assert entry.user_id is None

    # the ignored message left no window behind: once unassigned, that key proves nothing
    await container.devices.unassign(world.admin, device.id, REST)
    assert (await claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.FAILURE


async def test_opened_window_of_a_device_that_stays_unassigned_is_not_audited(world, container):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    log = await container.devices.audit_log(world.admin, 0, 100, device.id)
    assert log.data == []


async def test_delete_device_discards_its_window(world, container, store_probe):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    await container.devices.delete(world.admin, device.id)
    assert not await store_probe.stored_window(container, device.id)


async def test_reclaim_discards_the_window(world, container, store_probe):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    await container.claims.reclaim(world.admin, device.name, REST)
    assert not await store_probe.stored_window(container, device.id)
    assert (await container.claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.FAILURE


async def test_duration_extremes(world, container, clock):
    """A huge durationMs is capped (stored and claimable on every store); zero or negative means the
    configured default."""
    claims = container.claims
    forever = await world.device()
    assert await claims.open_window(forever, DeviceClaimMessage("k", 2**63 + 5), DEVICE) is WindowResult.OPENED
    clock.advance(100 * 365 * 24 * 3600 * 1000)  # a century later
    assert await claims.open_window(forever, DeviceClaimMessage("x", MINUTE), DEVICE) is WindowResult.KEPT
    assert (await claims.claim(world.u1, forever.name, "k", REST)).response is ClaimResponse.SUCCESS

    negative = await world.device()
    assert await claims.open_window(negative, DeviceClaimMessage("k", -5), DEVICE) is WindowResult.OPENED
    clock.advance(container.settings.claim_duration_ms)
    assert (await claims.claim(world.u1, negative.name, "k", REST)).response is ClaimResponse.SUCCESS


async def test_window_for_a_deleted_device_is_refused(world, container, store_probe):
    device = await world.device()
    await container.devices.delete(world.admin, device.id)
    with pytest.raises(NotFound):
        await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE)
    assert not await store_probe.stored_window(container, device.id)


async def test_a_door_that_just_read_the_device_is_not_read_again_when_windows_live_in_redis(world, container):
    """HTTP and CoAP read the device by its token for the very message (``fresh``); MQTT's device was
    read at CONNECT and is always read again."""
    claims = container.claims
    device = await world.device()  # as a door read it, a moment before its tenant assigned it
    async with claims.uow(write=True) as tx:
        await tx.repo.set_owner(device.id, world.c1.id)
    assert await claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.ALREADY_CLAIMED
    fresh = await claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE, fresh=True)
    if claims.uow.windows_need_write:  # windows in SQL: the device is read in the transaction that writes
        assert fresh is WindowResult.ALREADY_CLAIMED
    else:  # windows in Redis: the door's read of a moment ago stands
        assert fresh is WindowResult.OPENED
