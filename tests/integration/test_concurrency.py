"""Racing claims (issue #2 §4: exactly one SUCCESS) and several claimd processes on one store."""

from __future__ import annotations

import asyncio
import json

import pytest

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.model import AuditAction, Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000
ROUNDS = 20


async def race(world, claims_1, claims_2, device, secret: str, *, c2_first: bool = False) -> None:
    """C1's user (through ``claims_1``) and C2's (through ``claims_2``) claim ``device`` at the same
    moment: one SUCCESS, one CLAIMED, and the device belongs to the winner's customer."""
    attempt_1 = claims_1.claim(world.u1, device.name, secret, REST)
    attempt_2 = claims_2.claim(world.u2, device.name, secret, REST)
    if c2_first:
        second, first = await asyncio.gather(attempt_2, attempt_1)
    else:
        first, second = await asyncio.gather(attempt_1, attempt_2)
    responses = sorted([first.response, second.response])
    assert responses == sorted([ClaimResponse.SUCCESS, ClaimResponse.CLAIMED]), (first, second)
    winner, winner_customer = (first, world.c1.id) if first.response is ClaimResponse.SUCCESS else (second, world.c2.id)
    assert winner.device.customer_id == winner_customer
    stored = await world.container.devices.get(world.admin, device.id)
    assert stored.customer_id == winner_customer


@pytest.mark.parametrize("key", ["device-side", "server-side"])
async def test_two_customers_race_for_one_device(world, container, clock, key):
    for round_ in range(ROUNDS):
        device = await world.device()
        if key == "device-side":
            message = DeviceClaimMessage(f"k{round_}", MINUTE)
            assert await container.claims.open_window(device, message, DEVICE) is WindowResult.OPENED
        else:
            body = json.dumps({"claimingData": {"secretKey": f"k{round_}", "expirationTime": clock.now + MINUTE}})
            await container.devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", body.encode())
        # alternate who asks first, so that either may win
        await race(world, container.claims, container.claims, device, f"k{round_}", c2_first=bool(round_ % 2))
        log = await container.devices.audit_log(world.admin, 0, 10, device.id)
        assert sorted(e.outcome for e in log.data if e.action is AuditAction.CLAIM) == ["CLAIMED", "SUCCESS"]


@pytest.fixture
async def second(make_container, world):
    """Another claimd "process": its own engines and Redis client, the same settings and store."""
    return await make_container()


async def test_window_opened_in_one_process_is_claimable_in_another(world, container, second):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    # put-if-absent holds across processes too
    assert await second.claims.open_window(device, DeviceClaimMessage("x", MINUTE), DEVICE) is WindowResult.KEPT
    result = await second.claims.claim(world.u1, device.name, "k", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert (await container.devices.get(world.admin, device.id)).customer_id == world.c1.id
    assert (await container.claims.claim(world.u2, device.name, "k", REST)).response is ClaimResponse.CLAIMED

    # and the other way round, after a reclaim in the second process
    await second.claims.reclaim(world.u1, device.name, REST)
    assert await second.claims.open_window(device, DeviceClaimMessage("k2", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await container.claims.claim(world.u2, device.name, "k2", REST)).response is ClaimResponse.SUCCESS


async def test_window_spent_in_one_process_is_gone_in_the_other(world, container, second):
    device = await world.device()
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await second.claims.claim(world.u1, device.name, "bad", REST)).response is ClaimResponse.FAILURE
    assert (await container.claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.FAILURE
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED


async def test_two_processes_race_for_one_device(world, container, second, clock):
    for round_ in range(ROUNDS // 2):
        device = await world.device()
        if round_ % 2:
            verdict = await second.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE)
            assert verdict is WindowResult.OPENED
        else:
            body = json.dumps({"claimingData": {"secretKey": "k", "expirationTime": clock.now + MINUTE}}).encode()
            await second.devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", body)
        await race(world, container.claims, second.claims, device, "k", c2_first=bool(round_ % 2))


@pytest.mark.parametrize("expired_first", [False, True], ids=["empty", "after-expiry"])
async def test_simultaneous_windows_one_opens_one_is_kept(world, container, second, clock, expired_first):
    """Two device messages at the same moment, through two processes: put-if-absent is atomic."""
    for _ in range(ROUNDS // 2):
        device = await world.device()
        if expired_first:
            assert (
                await container.claims.open_window(device, DeviceClaimMessage("old", 1), DEVICE) is WindowResult.OPENED
            )
            clock.advance(2)
        verdicts = await asyncio.gather(
            container.claims.open_window(device, DeviceClaimMessage("one", MINUTE), DEVICE),
            second.claims.open_window(device, DeviceClaimMessage("two", MINUTE), DEVICE),
        )
        assert sorted(verdicts) == sorted([WindowResult.OPENED, WindowResult.KEPT]), verdicts
        winner = "one" if verdicts[0] is WindowResult.OPENED else "two"
        assert (await container.claims.claim(world.u1, device.name, winner, REST)).response is ClaimResponse.SUCCESS
