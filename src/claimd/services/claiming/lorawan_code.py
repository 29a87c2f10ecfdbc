"""The LoRaWAN claim-code proof, as The Things Stack claims: a customer presents the device's
JoinEUI, DevEUI and claim authentication code (typed, or read from a TR005 QR code); the device is
claimed into the customer's application (made on first use) as ``target_device_id``, and the code is
spent: it claims the device for no one else.

Checks, in order: the proof (the DevEUI is the tenant's, with this JoinEUI and this code; else
DEVICE_ACCESS_DENIED, the same answer for all three, a wrong guess), ownership (already yours: filed
if it was not; another's: DEVICE_OWNED_BY_ANOTHER; blocked: DEVICE_BLOCKED), the code spent
(CLAIM_CODE_SPENT), the code's validity window (CLAIM_CODE_NOT_VALID).
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from claimd.domain.errors import AuthenticationFailed
from claimd.domain.lorawan import (
    ClaimCodeNotValid,
    ClaimCodeSpent,
    DeviceAccessDenied,
    LorawanIdentity,
    check_code_usable,
    check_tts_id,
    default_device_id,
    normalize_code,
    parse_eui,
)
from claimd.domain.model import Device, Principal
from claimd.domain.ownership import DeviceBlocked, OwnedByAnother, require_claimable
from claimd.services.claiming.core import LORAWAN_CODE, ClaimCore
from claimd.services.claiming.ports import ClaimStore
from claimd.services.common import Origin, RowDone, record_row
from claimd.services.ports import SecretHasher
from claimd.services.uow import UnitOfWorkFactory

CODE_PURPOSE = "lorawan-code"  # the purpose a claim code's digest is bound to


def code_digest(hasher: SecretHasher, tenant_id: uuid.UUID | str, dev_eui: str, code: str) -> bytes:
    """The stored form of a claim authentication code: bound to its tenant and DevEUI."""
    return hasher.digest(CODE_PURPOSE, f"{tenant_id}:{dev_eui}", normalize_code(code))


@dataclass(frozen=True, slots=True)
class CodeProof:
    """A LoRaWAN device's identifiers and claim authentication code, as a customer presents them."""

    join_eui: str
    dev_eui: str
    code: str


@dataclass(frozen=True, slots=True)
class LorawanTarget:
    """What a claim by code reads in its first statement: the device (locked), its LoRaWAN identity
    with its code digest, and whether the acting user still exists."""

    device: Device
    identity: LorawanIdentity
    code_digest: bytes
    actor_exists: bool


@dataclass(frozen=True, slots=True)
class CodeSpend:
    """What a granted claim by code spends: the code, and the device's place in the owner's
    application (EndDeviceIdTaken if the application has a device of that id)."""

    application: uuid.UUID
    app_device_id: str


class CodeStore(ClaimStore, Protocol):
    async def lock_lorawan_target(
        self, tenant_id: uuid.UUID, dev_eui: str, actor: uuid.UUID
    ) -> LorawanTarget | None: ...
    async def ensure_application(
        self, tenant_id: uuid.UUID, customer_id: uuid.UUID, application_id: str, now_ms: int
    ) -> uuid.UUID: ...
    async def spend_code(self, device_id: uuid.UUID, now_ms: int, spend: CodeSpend) -> None:
        """Mark the code used and file the device in its owner's application, without a claim (the
        device is already the owner's); EndDeviceIdTaken if the application has a device of this id."""
        ...


@dataclass(frozen=True, slots=True)
class CodeClaimResult:
    device: Device
    identity: LorawanIdentity  # as it is after the claim (its application and device id)
    created: bool  # False: the caller's customer already owned it


_DETAIL = "claim authentication code"


class CodeClaims:
    def __init__(self, core: ClaimCore, uow: UnitOfWorkFactory[CodeStore], hasher: SecretHasher) -> None:
        self.core = core
        self.uow = uow
        self.hasher = hasher

    async def claim(
        self,
        principal: Principal,
        proof: CodeProof,
        application_id: str,
        device_id: str | None,
        origin: Origin,
        *,
        done: RowDone | None = None,
    ) -> CodeClaimResult:
        return await self.core.counted(
            origin.door,
            LORAWAN_CODE,
            self._claim(principal, proof, application_id, device_id, origin, done),
            lambda r: "success" if r.created else "already_yours",
        )

    async def _claim(
        self,
        principal: Principal,
        proof: CodeProof,
        application_id: str,
        device_id: str | None,
        origin: Origin,
        done: RowDone | None,
    ) -> CodeClaimResult:
        """Claim a LoRaWAN device into the caller's application ``application_id`` as ``device_id``
        (default ``eui-<deveui>``). Wrong codes count against the device, the user and the source
        address (services/guesses.py): while any of them is locked out, every attempt is refused, a
        right code included."""
        core = self.core
        customer = core.require_claimer(principal)
        application_id = check_tts_id(application_id, "target_application_ids.application_id")
        join_eui, dev_eui = parse_eui(proof.join_eui, what="JoinEUI"), parse_eui(proof.dev_eui, what="DevEUI")
        device_id = check_tts_id(device_id, "target_device_id") if device_id else default_device_id(dev_eui)
        digest = code_digest(self.hasher, principal.tenant_id, dev_eui, proof.code)
        now = core.clock()
        async with core.transaction(self.uow) as claiming:
            target = await claiming.repo.lock_lorawan_target(principal.tenant_id, dev_eui, principal.user_id)
            if target is not None and not target.actor_exists:
                raise AuthenticationFailed("User not found")
            keys = core.guesses.claim_keys(
                principal, origin.source, dev_eui if target is None else str(target.device.id)
            )
            await core.guesses.check(keys)
            if target is None:
                hmac.compare_digest(digest, digest)  # as long as a comparison with a stored digest
                await core.guesses.failed(keys)
                raise DeviceAccessDenied(dev_eui)
            device, identity = target.device, target.identity
            try:
                if not hmac.compare_digest(target.code_digest, digest) & (identity.join_eui == join_eui):
                    raise DeviceAccessDenied(dev_eui)
                free = require_claimable(
                    core.ownership(principal, device),
                    "the device is claimed by someone else; its owner or its maker must unclaim it first",
                )
                if free:
                    check_code_usable(
                        spent=identity.code_spent_at is not None,
                        valid_from=identity.valid_from,
                        valid_to=identity.valid_to,
                        now_ms=now,
                    )
            except (DeviceAccessDenied, OwnedByAnother, DeviceBlocked, ClaimCodeSpent, ClaimCodeNotValid) as exc:
                guess = keys if isinstance(exc, DeviceAccessDenied) else None
                raise await core.refuse(claiming, exc, origin, device, principal, now, _DETAIL, guess) from None
            if not free and identity.application_id is not None:  # already yours, and filed
                await record_row(claiming.repo, done, device.id)
                return CodeClaimResult(device, identity, created=False)
            application = await claiming.repo.ensure_application(principal.tenant_id, customer, application_id, now)
            spend = CodeSpend(application, device_id)
            filed = replace(identity, code_spent_at=now, application_id=application_id, app_device_id=device_id)
            if not free:  # already yours, not filed (e.g. assigned by the tenant): file it now
                await claiming.repo.spend_code(device.id, now, spend)
                await record_row(claiming.repo, done, device.id)
                return CodeClaimResult(device, filed, created=False)
            claimed = await core.grant(
                claiming, principal, device, origin, now, detail=_DETAIL, spends=(spend,), done=done
            )
            if claimed is None:  # unreachable: the row is locked
                raise OwnedByAnother("the device is claimed by someone else")
            return CodeClaimResult(claimed, filed, created=True)
