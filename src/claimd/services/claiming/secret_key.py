"""The secret-key proof, as ThingsBoard claims: a device opens a claim window with a key it shows
(device-side), or its tenant stores the key in the ``claimingData`` server attribute (server-side);
a customer user claims the device by name with the key.

ThingsBoard answers SUCCESS, FAILURE (no window, an expired one, or a wrong key) or CLAIMED (the
device is owned, by anyone): its decision table (domain/claiming.py) looks at the key before
ownership and tells an owned device as CLAIMED whatever the key. Every attempt spends the window.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Protocol

from claimd.domain.attributes import NewAttribute, StoredAttribute, parse_claiming_data
from claimd.domain.claiming import (
    CLAIMING_ALLOWED,
    CLAIMING_DATA,
    EXPIRATION_TIME_FIELD,
    ClaimData,
    ClaimResponse,
    DeviceClaimMessage,
    WindowVerdict,
    check_proof,
    decide_claim,
    may_open_window,
    window_expiry,
)
from claimd.domain.errors import NotFound
from claimd.domain.model import AttributeScope, AuditAction, Device, Principal
from claimd.domain.ownership import DeviceBlocked, Ownership
from claimd.services.claiming.core import CLAIM_ATTRIBUTES, SECRET_KEY, ClaimCore, refusal_outcome
from claimd.services.claiming.ports import ClaimStore
from claimd.services.common import Origin, audit_event
from claimd.services.ports import SecretHasher
from claimd.services.uow import UnitOfWorkFactory

CLAIM_SECRET = "claim-secret"  # the purpose a claim key's digest is bound to


def claim_digest(hasher: SecretHasher, device_id: uuid.UUID | str, secret_key: str) -> bytes:
    return hasher.digest(CLAIM_SECRET, str(device_id), secret_key)


def server_side_claim_data(hasher: SecretHasher, device_id: uuid.UUID, value: object) -> NewAttribute:
    """A ``claimingData`` attribute as stored: the key as a digest, the value redacted."""
    parsed = parse_claiming_data(value)
    return NewAttribute(CLAIMING_DATA, parsed.redacted(), claim_digest(hasher, device_id, parsed.secret_key))


def _stored_claim_data(attribute: StoredAttribute | None) -> ClaimData | None:
    if attribute is None or attribute.secret_digest is None or not isinstance(attribute.value, dict):
        return None
    return ClaimData(bytes(attribute.secret_digest), int(attribute.value.get(EXPIRATION_TIME_FIELD, 0)))


class SecretKeyStore(ClaimStore, Protocol):
    async def get_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None: ...
    async def get_attribute(self, device_id: uuid.UUID, scope: str, key: str) -> StoredAttribute | None: ...


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


_RESPONSE_OUTCOMES = {
    ClaimResponse.SUCCESS: "success",
    ClaimResponse.FAILURE: "wrong_secret",
    ClaimResponse.CLAIMED: "already_claimed",
}


class SecretKeyClaims:
    def __init__(self, core: ClaimCore, uow: UnitOfWorkFactory[SecretKeyStore], hasher: SecretHasher) -> None:
        self.core = core
        self.uow = uow
        self.hasher = hasher

    async def open_window(
        self, device: Device, message: DeviceClaimMessage, origin: Origin, *, fresh: bool = False
    ) -> WindowResult:
        """Register a device-side claim window for ``device`` (already authenticated by its door),
        counted in the metrics by door and result.

        ``fresh``: the door read ``device`` from the store for this very message (HTTP, CoAP), so with
        windows in Redis, where no transaction would hold the row either, it is not read again. With
        windows in SQL, the device is read in the write transaction that opens the window. A refusal is
        audited in a write transaction of its own (only refusals are: they are what a puzzled owner
        needs to see, TB #3931)."""
        metrics = self.core.metrics
        try:
            result = await self._open_window(device, message, origin, fresh=fresh)
        except Exception as exc:
            metrics.claim_window(origin.door, refusal_outcome(exc))
            raise
        metrics.claim_window(origin.door, result.name.lower())  # opened, kept, already_claimed, not_allowed
        return result

    async def _open_window(
        self, device: Device, message: DeviceClaimMessage, origin: Origin, *, fresh: bool
    ) -> WindowResult:
        now = self.core.clock()
        policy = self.core.policy
        async with self.uow(write=self.uow.windows_need_write) as tx:
            if fresh and not self.uow.windows_need_write:
                current: Device | None = device
            else:
                current = await tx.repo.get_device(device.tenant_id, device.id)
            if current is None:
                raise NotFound()
            claiming_allowed = None
            if not policy.allow_claiming_by_default and not current.is_assigned:
                attribute = await tx.repo.get_attribute(current.id, AttributeScope.SERVER_SCOPE, CLAIMING_ALLOWED)
                claiming_allowed = attribute.value if attribute else None
            verdict = may_open_window(
                allow_by_default=policy.allow_claiming_by_default,
                device_assigned=current.is_assigned,
                claiming_allowed=claiming_allowed,
            )
            if verdict is WindowVerdict.ALLOWED:
                expires = window_expiry(now, message.duration_ms, policy.default_duration_ms)
                data = ClaimData(claim_digest(self.hasher, current.id, message.secret_key), expires)
                return WindowResult.OPENED if await tx.windows.open(current.id, data, now) else WindowResult.KEPT
        async with self.uow(write=True) as tx:
            await tx.repo.add_audit(audit_event(AuditAction.CLAIM_WINDOW, verdict.value, origin, current, None, now))
        return WindowResult(verdict.value)

    async def claim(self, principal: Principal, device_name: str, secret_key: str, origin: Origin) -> ClaimResult:
        return await self.core.counted(
            origin.door,
            SECRET_KEY,
            self._claim(principal, device_name, secret_key, origin),
            lambda result: _RESPONSE_OUTCOMES[result.response],
        )

    async def _claim(self, principal: Principal, device_name: str, secret_key: str, origin: Origin) -> ClaimResult:
        """A customer user claims a device of its tenant by name, proving it with ``secret_key``.

        Guessing is limited (services/guesses.py): a wrong key (FAILURE) counts against the device, the
        user and the address, checked while the device's row is locked; so does a name that does not
        exist."""
        core = self.core
        core.require_claimer(principal)
        now = core.clock()
        async with core.transaction(self.uow) as claiming:
            try:
                target = await core.lock(claiming, principal, name=device_name)
            except NotFound:
                keys = core.guesses.claim_keys(principal, origin.source, None)
                await core.guesses.check(keys)
                await core.guesses.failed(keys)
                raise
            device = target.device
            keys = core.guesses.claim_keys(principal, origin.source, str(device.id))
            await core.guesses.check(keys)
            data = await claiming.tx.windows.take(device.id) or _stored_claim_data(target.claiming_data)
            decision = decide_claim(
                check_proof(data, claim_digest(self.hasher, device.id, secret_key), now), device.is_assigned
            )
            if decision.assigns:  # the key is right and no one owns the device
                if core.ownership(principal, device) is Ownership.BLOCKED:  # the attempt spent the window
                    raise await core.refuse(
                        claiming, DeviceBlocked("The device is blocked by its tenant"), origin, device, principal, now
                    )
                claimed = await core.grant(claiming, principal, device, origin, now, discard_window=False)
                if claimed is not None:
                    return ClaimResult(ClaimResponse.SUCCESS, claimed)
                # unreachable while the device row is locked; the last line of defence (attributes cleared)
                response = ClaimResponse.CLAIMED
            else:
                response = decision.response
                if decision.clear_claim_attributes:
                    await claiming.repo.delete_attributes(
                        device.id, AttributeScope.SERVER_SCOPE, list(CLAIM_ATTRIBUTES)
                    )
            guess = keys if response is ClaimResponse.FAILURE else None
            await core.audit(claiming, response.value, origin, device, principal, now, guess=guess)
            return ClaimResult(response, device)
