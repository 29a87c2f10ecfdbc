"""The claim's writes in one round trip (``claim_writes``): the same effects as the three statements
they replace, on every backend — and none of the owner or audit writes when the device had an owner."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from claimd.domain.attributes import NewAttribute
from claimd.domain.claiming import CLAIMING_ALLOWED, CLAIMING_DATA
from claimd.domain.lorawan import EndDeviceIdTaken, LorawanIdentity
from claimd.domain.model import AttributeScope, AuditAction, Door
from claimd.domain.ownership import DeviceIdentity
from claimd.services.claiming.lorawan_code import CodeSpend
from claimd.services.claiming.ports import ClaimWrites
from claimd.services.claiming.token import NonceSpend
from claimd.services.common import Origin, audit_event

SERVER = AttributeScope.SERVER_SCOPE.value
REST = Origin(Door.REST, "192.0.2.7")


def _writes(
    device,
    world,
    clock,
    event,
    *,
    restricted=False,
    nonce=None,
    challenge_answered=False,
    device_type=None,
    firmware_id=None,
    filed=None,
):
    spends = []
    if nonce is not None:
        spends.append(NonceSpend(nonce, challenge_answered, firmware_id))
    if filed is not None:
        spends.append(CodeSpend(*filed))
    return ClaimWrites(
        device.id,
        world.c1.id,
        world.u1.user_id,
        clock.now,
        restricted,
        event,
        clear=(CLAIMING_ALLOWED, CLAIMING_DATA),
        learned_type=device_type,
        spends=tuple(spends),
    )


async def _with_claim_attributes(world, container, clock):
    device = await world.device()
    async with container.claims.uow(write=True) as tx:
        await tx.repo.save_attributes(
            device.id,
            SERVER,
            [
                NewAttribute(CLAIMING_ALLOWED, True),
                NewAttribute(CLAIMING_DATA, {"expirationTime": 1}, b"d" * 32),
                NewAttribute("firmware", "1.2"),
            ],
            clock.now,
        )
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
        assert await tx.repo.claim_writes(_writes(device, world, clock, event, restricted=True)) is True
    stored, keys, audit = await _state(container, world, device)
    assert (stored.customer_id, stored.claimed_by, stored.claimed_at, stored.claim_restricted) == (
        world.c1.id,
        world.u1.user_id,
        clock.now,
        True,
    )
    assert keys == ["firmware"]
    assert [(a.id, a.action, a.outcome, a.door, a.source, a.customer_id) for a in audit] == [
        (event.id, AuditAction.CLAIM, "SUCCESS", Door.REST, "192.0.2.7", world.c1.id)
    ]


async def test_claim_writes_leave_an_owned_device_to_its_owner(world, container, clock):
    device = await _with_claim_attributes(world, container, clock)
    async with container.claims.uow(write=True) as tx:
        await tx.repo.set_owner(device.id, world.c2.id)
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(_writes(device, world, clock, event)) is False
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
            assert await tx.repo.claim_writes(_writes(device, world, clock, event))
            raise Abort
    except Abort:
        pass
    stored, keys, audit = await _state(container, world, device)
    assert stored.customer_id is None
    assert keys == [CLAIMING_ALLOWED, CLAIMING_DATA, "firmware"]
    assert all(a.id != event.id for a in audit)


async def _token_device(world, container, clock):
    """A device of type "default" with a registered identity (no firmware known) and a challenge."""
    device = await world.device()
    nonce = uuid.uuid4().bytes
    async with container.claims.uow(write=True) as tx:
        await tx.repo.add_identity(DeviceIdentity(device.id, world.admin.tenant_id, b"spki", clock.now))
        await tx.repo.add_challenge(nonce, world.admin.tenant_id, world.u1.user_id, clock.now + 60_000, purge_before=0)
    return device, nonce


async def _token_state(container, world, device, nonce):
    async with container.claims.uow() as tx:
        target = await tx.repo.lock_token_target(world.admin.tenant_id, device.id, nonce, world.u1.user_id)
        identity = await tx.repo.get_identity(world.admin.tenant_id, device.id)
    return target, identity


async def test_a_token_claim_spends_its_nonce_and_challenge_and_learns_type_and_firmware(world, container, clock):
    device, nonce = await _token_device(world, container, clock)
    firmware = uuid.uuid4()
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now, detail="claim token")
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(
            _writes(
                device,
                world,
                clock,
                event,
                nonce=nonce,
                challenge_answered=True,
                device_type="nRF9161 SiP",
                firmware_id=firmware,
            )
        )
    target, identity = await _token_state(container, world, device, nonce)
    assert target.nonce_used is True
    assert target.challenge_expires_at == clock.now - 1  # spent: expired
    assert (target.device.type, target.device.customer_id) == ("nRF9161 SiP", world.c1.id)
    assert identity.firmware_id == firmware


async def test_a_token_claim_keeps_a_known_type_and_an_unanswered_challenge(world, container, clock):
    device, nonce = await _token_device(world, container, clock)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.update_device(replace(device, type="tracker"))
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(_writes(device, world, clock, event, nonce=nonce, device_type=None))
    target, identity = await _token_state(container, world, device, nonce)
    assert target.nonce_used is True
    assert target.challenge_expires_at == clock.now + 60_000
    assert target.device.type == "tracker"
    assert identity.firmware_id is None


async def test_nothing_is_spent_when_the_device_had_an_owner(world, container, clock):
    device, nonce = await _token_device(world, container, clock)
    async with container.claims.uow(write=True) as tx:
        await tx.repo.set_owner(device.id, world.c2.id)
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert (
            await tx.repo.claim_writes(
                _writes(
                    device,
                    world,
                    clock,
                    event,
                    nonce=nonce,
                    challenge_answered=True,
                    device_type="nRF9161 SiP",
                    firmware_id=uuid.uuid4(),
                )
            )
            is False
        )
    target, identity = await _token_state(container, world, device, nonce)
    assert (target.nonce_used, target.challenge_expires_at) == (False, clock.now + 60_000)
    assert (target.device.type, target.device.customer_id, identity.firmware_id) == ("default", world.c2.id, None)


async def _lorawan_device(world, container, clock, dev_eui):
    device = await world.device()
    async with container.claims.uow(write=True) as tx:
        await tx.repo.add_lorawan(
            LorawanIdentity(device.id, world.admin.tenant_id, dev_eui, "70B3D57ED0000000", clock.now), b"c" * 32
        )
        application = await tx.repo.ensure_application(world.admin.tenant_id, world.c1.id, "app-1", clock.now)
    return device, application


async def test_a_code_claim_spends_the_code_and_files_the_device(world, container, clock):
    device, application = await _lorawan_device(world, container, clock, "0004A30B001C0530")
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, device, world.u1, clock.now)
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(_writes(device, world, clock, event, filed=(application, "my-sensor")))
    async with container.claims.uow() as tx:
        stored, identity = await tx.repo.get_lorawan(world.admin.tenant_id, "0004A30B001C0530")
    assert stored.customer_id == world.c1.id
    assert (identity.code_spent_at, identity.application_id, identity.app_device_id) == (
        clock.now,
        "app-1",
        "my-sensor",
    )


async def test_a_device_id_taken_in_the_application_undoes_the_whole_claim(world, container, clock):
    first, application = await _lorawan_device(world, container, clock, "0004A30B001C0531")
    second, _ = await _lorawan_device(world, container, clock, "0004A30B001C0532")
    async with container.claims.uow(write=True) as tx:
        assert await tx.repo.claim_writes(
            _writes(
                first,
                world,
                clock,
                audit_event(AuditAction.CLAIM, "SUCCESS", REST, first, world.u1, clock.now),
                filed=(application, "same-id"),
            )
        )
    event = audit_event(AuditAction.CLAIM, "SUCCESS", REST, second, world.u1, clock.now)
    with pytest.raises(EndDeviceIdTaken, match="same-id"):
        async with container.claims.uow(write=True) as tx:
            await tx.repo.claim_writes(_writes(second, world, clock, event, filed=(application, "same-id")))
    stored, _keys, audit = await _state(container, world, second)
    assert stored.customer_id is None
    assert all(a.id != event.id for a in audit)
