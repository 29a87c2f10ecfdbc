"""The claim use cases: a device opens a claim window; a customer claims; an owner or tenant reclaims.

Every door calls these. A claim is one transaction that first locks the device (``FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), then spends the device's window: two buyers racing for
one device are served one after the other, so exactly one gets SUCCESS and the other CLAIMED.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace

from claimd.domain.attributes import parse_claiming_data
from claimd.domain.claiming import (
    CLAIMING_ALLOWED,
    CLAIMING_DATA,
    EXPIRATION_TIME_FIELD,
    ClaimData,
    ClaimDecision,
    ClaimResponse,
    DeviceClaimMessage,
    WindowVerdict,
    check_proof,
    decide_claim,
    may_open_window,
    reclaim_restores_claiming_allowed,
    window_expiry,
)
from claimd.domain.errors import AuthenticationFailed, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import AttributeScope, AuditAction, Authority, Device, Principal
from claimd.services.common import Origin, audit_event
from claimd.services.ports import (
    ClaimTarget,
    Clock,
    NewAttribute,
    SecretHasher,
    StoredAttribute,
    UnitOfWork,
    UnitOfWorkFactory,
)

CLAIM_SECRET = "claim-secret"


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    allow_claiming_by_default: bool = True
    default_duration_ms: int = 86_400_000


class WindowResult(enum.StrEnum):
    """What became of a device's claim message. ThingsBoard tells the device none of this; the
    MQTT 5 door reports it in its PUBACK reason code, HTTP in a response header."""

    OPENED = "opened"
    KEPT = "kept"  # a live window exists and is kept (ThingsBoard's put-if-absent)
    ALREADY_CLAIMED = WindowVerdict.ALREADY_CLAIMED.value
    NOT_ALLOWED = WindowVerdict.NOT_ALLOWED.value


@dataclass(frozen=True, slots=True)
class ClaimResult:
    response: ClaimResponse
    device: Device


def claim_digest(hasher: SecretHasher, device_id: uuid.UUID, secret_key: str) -> bytes:
    return hasher.digest(CLAIM_SECRET, str(device_id), secret_key)


def server_side_claim_data(hasher: SecretHasher, device_id: uuid.UUID, value: object) -> NewAttribute:
    """A ``claimingData`` attribute as stored: the key as a digest, the value redacted."""
    parsed = parse_claiming_data(value)
    return NewAttribute(CLAIMING_DATA, parsed.redacted(), claim_digest(hasher, device_id, parsed.secret_key))


def _stored_claim_data(attribute: StoredAttribute | None) -> ClaimData | None:
    if attribute is None or attribute.secret_digest is None or not isinstance(attribute.value, dict):
        return None
    return ClaimData(bytes(attribute.secret_digest), int(attribute.value.get(EXPIRATION_TIME_FIELD, 0)))


async def _lock_target(tx: UnitOfWork, principal: Principal, device_name: str) -> ClaimTarget:
    """The device to claim or release, locked for the transaction; the acting user must still exist."""
    if not device_name.strip():
        raise InvalidArgument("Parameter 'deviceName' can't be empty!")
    target = await tx.repo.lock_claim_target(principal.tenant_id, device_name, principal.user_id)
    if target is None:
        raise NotFound()
    if not target.actor_exists:
        raise AuthenticationFailed("User not found")
    return target


class ClaimService:
    def __init__(self, uow: UnitOfWorkFactory, hasher: SecretHasher, policy: ClaimPolicy, clock: Clock) -> None:
        self.uow = uow
        self.hasher = hasher
        self.policy = policy
        self.clock = clock

    async def open_window(self, device: Device, message: DeviceClaimMessage, origin: Origin) -> WindowResult:
        """Register a device-side claim window for ``device`` (already authenticated by its door)."""
        now = self.clock()
        async with self.uow(write=True) as tx:
            current = await tx.repo.get_device(device.tenant_id, device.id)
            if current is None:
                raise NotFound()
            claiming_allowed = None
            if not self.policy.allow_claiming_by_default and not current.is_assigned:
                attribute = await tx.repo.get_attribute(current.id, AttributeScope.SERVER_SCOPE, CLAIMING_ALLOWED)
                claiming_allowed = attribute.value if attribute else None
            verdict = may_open_window(
                allow_by_default=self.policy.allow_claiming_by_default,
                device_assigned=current.is_assigned,
                claiming_allowed=claiming_allowed,
            )
            if verdict is not WindowVerdict.ALLOWED:
                # Only refusals are audited: they are what a puzzled owner needs to see (TB #3931).
                await tx.repo.add_audit(audit_event(AuditAction.CLAIM_WINDOW, verdict.value, origin, current, None, now))
                return WindowResult(verdict.value)
            expires = window_expiry(now, message.duration_ms, self.policy.default_duration_ms)
            data = ClaimData(claim_digest(self.hasher, current.id, message.secret_key), expires)
            stored = await tx.windows.open(current.id, data, now)
        return WindowResult.OPENED if stored else WindowResult.KEPT

    async def claim(self, principal: Principal, device_name: str, secret_key: str, origin: Origin) -> ClaimResult:
        """A customer user claims a device of its tenant by name, proving it with ``secret_key``."""
        if principal.authority is not Authority.CUSTOMER_USER or principal.customer_id is None:
            raise PermissionDenied()
        now = self.clock()
        async with self.uow(write=True) as tx:
            target = await _lock_target(tx, principal, device_name)
            device = target.device
            data = await tx.windows.take(device.id) or _stored_claim_data(target.claiming_data)
            proof = check_proof(data, claim_digest(self.hasher, device.id, secret_key), now)
            decision = decide_claim(proof, device.is_assigned)
            if decision.assigns:
                if await tx.repo.set_owner_if_unowned(device.id, principal.customer_id):
                    device = replace(device, customer_id=principal.customer_id)
                else:  # unreachable while the device row is locked; kept as the last line of defence
                    decision = ClaimDecision(ClaimResponse.CLAIMED, clear_claim_attributes=True)
            if decision.clear_claim_attributes:
                await tx.repo.delete_attributes(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_ALLOWED, CLAIMING_DATA])
            await tx.repo.add_audit(
                audit_event(AuditAction.CLAIM, decision.response.value, origin, device, principal, now)
            )
        return ClaimResult(decision.response, device)

    async def reclaim(self, principal: Principal, device_name: str, origin: Origin) -> Device:
        """Release a device: its owner's users may release it, and its tenant admins any device."""
        if principal.authority not in (Authority.TENANT_ADMIN, Authority.CUSTOMER_USER):
            raise PermissionDenied()
        now = self.clock()
        async with self.uow(write=True) as tx:
            target = await _lock_target(tx, principal, device_name)
            device = target.device
            if principal.is_customer_user and device.customer_id != principal.customer_id:
                raise PermissionDenied()  # ThingsBoard lets any customer user do this (bug #6742)
            await tx.windows.discard(device.id)
            if device.is_assigned:
                await tx.repo.set_owner(device.id, None)
            if reclaim_restores_claiming_allowed(
                allow_by_default=self.policy.allow_claiming_by_default, was_assigned=device.is_assigned
            ):
                await tx.repo.save_attributes(
                    device.id, AttributeScope.SERVER_SCOPE, [NewAttribute(CLAIMING_ALLOWED, True)], now
                )
            outcome = "UNASSIGNED" if device.is_assigned else "NOT_ASSIGNED"
            await tx.repo.add_audit(audit_event(AuditAction.RECLAIM, outcome, origin, device, principal, now))
        return replace(device, customer_id=None)
