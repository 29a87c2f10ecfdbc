"""The claim's writes in one round trip (``claim_writes``): the same effects as the three statements
they replace, on every backend — and none of the owner or audit writes when the device had an owner."""

from __future__ import annotations

from claimd.domain.claiming import CLAIMING_ALLOWED, CLAIMING_DATA
from claimd.domain.model import AttributeScope, AuditAction, Door
from claimd.services.common import Origin, audit_event
from claimd.services.ports import NewAttribute

SERVER = AttributeScope.SERVER_SCOPE.value
REST = Origin(Door.REST, "192.0.2.7")


async def _with_claim_attributes(world, container, clock):
    device = await world.device()
    async with container.claims.uow(write=True) as tx:
        await tx.repo.save_attributes(device.id, SERVER, [
            NewAttribute(CLAIMING_ALLOWED, True), NewAttribute(CLAIMING_DATA, {"expirationTime": 1}, b"d" * 32),
            NewAttribute("firmware", "1.2")], clock.now)
    return device


async def _state(container, world, device):
    async with container.claims.uow() as tx:
        stored = await tx.repo.get_device(world.admin.tenant_id, device.id)
        keys = sorted(attribute.key for _scope, attribute in await tx.repo.get_attributes(device.id, SERVER, None))
        audit = await tx.repo.list_audit(world.admin.tenant_id, device.id, 0, 10)
    return stored, keys, audit.data


async def test_claim_writes_set_the_owner_clear_the_claim_attributes_and_audit(world, container, clock):
    device = await _with_claim_attributes(world, container, clock)
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(device.id, world.c1.id, world.u1.user_id, clock.now, True,
                                          [CLAIMING_ALLOWED, CLAIMING_DATA], event) is True
    stored, keys, audit = await _state(container, world, device)
    assert (stored.customer_id, stored.claimed_by, stored.claimed_at, stored.claim_restricted) == \
        (world.c1.id, world.u1.user_id, clock.now, True)
    assert keys == ["firmware"]
    assert [(a.id, a.action, a.outcome, a.door, a.source, a.customer_id) for a in audit] == \
        [(event.id, AuditAction.CLAIM, "SUCCESS", Door.REST, "192.0.2.7", world.c1.id)]


async def test_claim_writes_leave_an_owned_device_to_its_owner(world, container, clock):
    device = await _with_claim_attributes(world, container, clock)
    async with container.claims.uow(write=True) as tx:
        await tx.repo.set_owner(device.id, world.c2.id)
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(device.id, world.c1.id, world.u1.user_id, clock.now, False,
                                          [CLAIMING_ALLOWED, CLAIMING_DATA], event) is False
    stored, keys, audit = await _state(container, world, device)
    assert stored.customer_id == world.c2.id and stored.claimed_by is None
    assert keys == ["firmware"]  # the claim attributes go either way, as the three statements did
    assert all(a.id != event.id for a in audit)


async def test_claim_writes_roll_back_with_their_transaction(world, container, clock):
    device = await _with_claim_attributes(world, container, clock)
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)

    class Abort(Exception):
        pass

    try:
        async with container.claims.uow(write=True) as tx:
            assert await tx.repo.claim_writes(device.id, world.c1.id, world.u1.user_id, clock.now, False,
                                              [CLAIMING_ALLOWED, CLAIMING_DATA], event)
            raise Abort
    except Abort:
        pass
    stored, keys, audit = await _state(container, world, device)
    assert stored.customer_id is None
    assert keys == [CLAIMING_ALLOWED, CLAIMING_DATA, "firmware"]
    assert all(a.id != event.id for a in audit)
