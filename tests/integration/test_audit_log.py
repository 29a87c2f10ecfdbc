"""The audit log (issue #2 §2): every claim, failed claim, reclaim, assign and unassign."""

from __future__ import annotations

import pytest

from claimd.domain.claiming import ClaimResponse, DeviceClaimMessage
from claimd.domain.errors import NotFound, PermissionDenied
from claimd.domain.model import AuditAction, Door
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

MINUTE = 60_000


async def test_every_claim_outcome_and_ownership_change_is_recorded(world, container, clock):
    claims, devices = container.claims, container.devices
    device = await world.device("Audited device")
    rest = Origin(Door.REST, source="198.51.100.7")
    cli = Origin(Door.CLI)
    expected = []  # (action, outcome, door, source, user_id, customer_id, created_time)

    clock.advance(1)
    assert (await claims.claim(world.u1, device.name, "k", rest)).response is ClaimResponse.FAILURE
    expected.append((AuditAction.CLAIM, "FAILURE", Door.REST, "198.51.100.7", world.u1.user_id, world.c1.id, clock.now))

    clock.advance(1)
    window = DeviceClaimMessage("k", MINUTE)
    assert await claims.open_window(device, window, Origin(Door.HTTP_DEVICE)) is WindowResult.OPENED
    assert (await claims.claim(world.u1, device.name, "k", rest)).response is ClaimResponse.SUCCESS
    expected.append((AuditAction.CLAIM, "SUCCESS", Door.REST, "198.51.100.7", world.u1.user_id, world.c1.id, clock.now))

    clock.advance(1)
    assert (await claims.claim(world.u2, device.name, "k", rest)).response is ClaimResponse.CLAIMED
    expected.append((AuditAction.CLAIM, "CLAIMED", Door.REST, "198.51.100.7", world.u2.user_id, world.c2.id, clock.now))

    clock.advance(1)
    await claims.reclaim(world.u1, device.name, rest)
    expected.append(
        (AuditAction.RECLAIM, "UNASSIGNED", Door.REST, "198.51.100.7", world.u1.user_id, world.c1.id, clock.now)
    )

    clock.advance(1)
    await devices.assign(world.admin, world.c2.id, device.id, cli)
    expected.append((AuditAction.ASSIGN, "ASSIGNED", Door.CLI, None, world.admin.user_id, world.c2.id, clock.now))

    clock.advance(1)
    await devices.unassign(world.admin, device.id, cli)
    expected.append((AuditAction.UNASSIGN, "UNASSIGNED", Door.CLI, None, world.admin.user_id, world.c2.id, clock.now))

    log = await devices.audit_log(world.admin, 0, 100, device.id)
    assert log.total_elements == len(expected)
    entries = list(reversed(log.data))  # newest first
    got = [(e.action, e.outcome, e.door, e.source, e.user_id, e.customer_id, e.created_time) for e in entries]
    assert got == expected
    for entry in entries:
        assert entry.device_id == device.id
        assert entry.device_name == "Audited device"
        assert entry.tenant_id == world.admin.tenant_id

    # the tenant-wide log holds the same entries, and paging works over it
    first_page = await devices.audit_log(world.admin, 0, 4)
    assert first_page.total_elements == len(expected)
    assert [e.created_time for e in first_page.data] == [t for *_rest, t in reversed(expected)][:4]


async def test_audit_survives_device_deletion(world, container):
    device = await world.device()
    await container.devices.assign(world.admin, world.c1.id, device.id, Origin(Door.REST))
    await container.devices.delete(world.admin, device.id)
    log = await container.devices.audit_log(world.admin, 0, 10, device.id)
    assert [(e.action, e.device_name) for e in log.data] == [(AuditAction.ASSIGN, device.name)]


async def test_refused_claims_leave_no_entry(world, container):
    """Permission errors and unknown names are not claims: nothing is recorded."""
    device = await world.device()
    with pytest.raises(PermissionDenied):
        await container.claims.claim(world.admin, device.name, "", Origin(Door.REST))
    with pytest.raises(NotFound):
        await container.claims.claim(world.u1, "missing", "", Origin(Door.REST))
    assert (await container.devices.audit_log(world.admin, 0, 10)).total_elements == 0
