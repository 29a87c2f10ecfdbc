"""``allowClaimingByDefault`` and the ``claimingAllowed`` attribute (thingsboard.md §2.2, §2.5)."""

from __future__ import annotations

import pytest

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.model import AuditAction, Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

DEVICE = Origin(Door.HTTP_DEVICE)
REST = Origin(Door.REST)
MINUTE = 60_000


@pytest.fixture
async def strict(make_container, world):
    """A second container on the same store, with allow_claiming_by_default=False."""
    return await make_container(allow_claiming_by_default=False)


async def server_attributes(container, world, device) -> dict:
    found = await container.devices.get_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", None)
    return {attribute.key: attribute.value for _scope, attribute in found}


async def test_window_refused_without_claiming_allowed(world, strict, store_probe):
    device = await world.device()
    verdict = await strict.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE)
    assert verdict is WindowResult.NOT_ALLOWED
    assert not await store_probe.stored_window(strict, device.id)
    assert (await strict.claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.FAILURE

    log = await strict.devices.audit_log(world.admin, 0, 100, device.id)
    refusals = [(e.action, e.outcome) for e in log.data if e.action is AuditAction.CLAIM_WINDOW]
    assert refusals == [(AuditAction.CLAIM_WINDOW, WindowResult.NOT_ALLOWED.value)]


@pytest.mark.parametrize(
    "body",
    [b'{"claimingAllowed": "true"}', b'{"claimingAllowed": false}', b'{"claimingAllowed": 1}'],
    ids=["string-true", "false", "one"],
)
async def test_only_boolean_true_allows(world, strict, body):
    device = await world.device()
    await strict.devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", body)
    assert await strict.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.NOT_ALLOWED


async def test_claiming_allowed_in_shared_scope_does_not_count(world, strict):
    device = await world.device()
    await strict.devices.save_attributes(world.admin, "DEVICE", device.id, "SHARED_SCOPE", b'{"claimingAllowed": true}')
    assert await strict.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.NOT_ALLOWED


async def test_claiming_allowed_then_claim_then_reclaim_restores_it(world, strict):
    device = await world.device()
    await strict.devices.save_attributes(world.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"claimingAllowed": true}')
    assert await server_attributes(strict, world, device) == {"claimingAllowed": True}

    assert await strict.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    result = await strict.claims.claim(world.u1, device.name, "k", REST)
    assert result.response is ClaimResponse.SUCCESS
    assert result.device.customer_id == world.c1.id
    assert "claimingAllowed" not in await server_attributes(strict, world, device)

    # assigned: no new window, whatever the attribute says
    verdict = await strict.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE)
    assert verdict is WindowResult.ALREADY_CLAIMED

    released = await strict.claims.reclaim(world.admin, device.name, REST)
    assert released.customer_id is None
    assert (await server_attributes(strict, world, device))["claimingAllowed"] is True

    # so the device can be claimed again
    assert await strict.claims.open_window(device, DeviceClaimMessage("k2", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await strict.claims.claim(world.u2, device.name, "k2", REST)).response is ClaimResponse.SUCCESS


async def test_reclaim_by_owner_restores_claiming_allowed(world, strict):
    device = await world.device()
    await strict.devices.assign(world.admin, world.c1.id, device.id, REST)
    await strict.claims.reclaim(world.u1, device.name, REST)
    assert (await server_attributes(strict, world, device))["claimingAllowed"] is True


async def test_reclaim_of_unassigned_device_adds_nothing(world, strict):
    device = await world.device()
    await strict.claims.reclaim(world.admin, device.name, REST)
    assert await server_attributes(strict, world, device) == {}


async def test_allow_by_default_ignores_claiming_allowed_and_reclaim_adds_none(world, container):
    device = await world.device()
    await container.devices.save_attributes(
        world.admin, "DEVICE", device.id, "SERVER_SCOPE", b'{"claimingAllowed": false}'
    )
    assert await container.claims.open_window(device, DeviceClaimMessage("k", MINUTE), DEVICE) is WindowResult.OPENED
    assert (await container.claims.claim(world.u1, device.name, "k", REST)).response is ClaimResponse.SUCCESS
    assert await server_attributes(container, world, device) == {}  # claimingAllowed deleted on success

    await container.claims.reclaim(world.admin, device.name, REST)
    assert (await container.devices.get(world.admin, device.id)).customer_id is None
    assert await server_attributes(container, world, device) == {}
