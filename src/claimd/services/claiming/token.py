"""The claim-token proof, as nRF Cloud claims: the device signs an identity attestation token
(ES256 COSE, domain/attestation.py) with the key its tenant registered; the token carries a nonce,
spent by the claim, and may answer a single-use server challenge (``POST /v1/claim-challenges``).

Checks, in order: the device's identity is registered (else UNKNOWN_DEVICE, a wrong guess), the
signature (CLAIM_TOKEN_BAD_SIGNATURE), ownership (already yours: the record back; another's:
DEVICE_OWNED_BY_ANOTHER; blocked: DEVICE_BLOCKED), then the nonce (CLAIM_TOKEN_REPLAYED) and the
challenge (CLAIM_CHALLENGE_REQUIRED / _EXPIRED).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Protocol

from claimd.domain.attestation import ClaimToken, parse_claim_token
from claimd.domain.errors import AuthenticationFailed, ClaimdError
from claimd.domain.model import Device, Principal
from claimd.domain.ownership import (
    BadSignature,
    ChallengeExpired,
    ChallengeRequired,
    DeviceBlocked,
    DeviceIdentity,
    OwnedByAnother,
    ReplayedToken,
    UnknownDevice,
    parse_tags,
    require_claimable,
)
from claimd.services.claiming.core import TOKEN, ClaimCore
from claimd.services.claiming.ports import ClaimStore
from claimd.services.common import Origin, RowDone, record_row
from claimd.services.ports import IdentityKeys
from claimd.services.uow import UnitOfWorkFactory

CHALLENGE_RETENTION_MS = 86_400_000  # an expired challenge is kept a day, so that a late token hears "expired"

#: Token refusals that count as wrong guesses (services/guesses.py): a forged, replayed or unasked-for token.
_TOKEN_GUESSES = (BadSignature, ReplayedToken, ChallengeRequired, ChallengeExpired)


@dataclass(frozen=True, slots=True)
class TokenTarget:
    """What a token claim reads in its first statement (see ``lock_token_target``)."""

    device: Device
    public_key: bytes
    nonce_used: bool
    challenge_user: uuid.UUID | None
    challenge_expires_at: int | None
    actor_exists: bool


@dataclass(frozen=True, slots=True)
class NonceSpend:
    """What a granted token claim spends: its nonce (and the challenge it answered, which expires),
    and what the token teaches: the identity's firmware while it is unknown."""

    nonce: bytes
    challenge_answered: bool
    firmware_id: uuid.UUID | None


class TokenStore(ClaimStore, Protocol):
    async def get_identity(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceIdentity | None: ...
    async def lock_token_target(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, nonce: bytes, actor: uuid.UUID
    ) -> TokenTarget | None:
        """One statement: the device locked, its public key, whether the nonce was spent, the
        challenge that issued the nonce (if any), and whether the acting user still exists."""
        ...

    async def add_challenge(
        self, nonce: bytes, tenant_id: uuid.UUID, user_id: uuid.UUID, expires_at: int, purge_before: int
    ) -> None: ...
    async def void_nonce(self, device_id: uuid.UUID, nonce: bytes, now_ms: int) -> None:
        """Record a nonce as used without a claim; already recorded: nothing to do."""
        ...

    async def ensure_tags(
        self, tenant_id: uuid.UUID, scope_id: uuid.UUID, names: tuple[str, ...], now_ms: int
    ) -> list[str]: ...
    async def tag_device(
        self, device_id: uuid.UUID, tag_ids: list[str], scope_id: uuid.UUID, replace: bool
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class TokenClaimResult:
    device: Device
    created: bool  # False: the caller already owned it (or a dry run)


class TokenClaims:
    def __init__(self, core: ClaimCore, uow: UnitOfWorkFactory[TokenStore], keys: IdentityKeys) -> None:
        self.core = core
        self.uow = uow
        self.keys = keys

    async def create_challenge(self, principal: Principal) -> tuple[bytes, int]:
        """A single-use nonce for ``AT%ATTESTTOKEN=<challenge>``: a token carrying it claims only for
        this user, and only until it expires."""
        self.core.require_claimer(principal)
        now = self.core.clock()
        nonce = secrets.token_bytes(16)
        expires = now + self.core.policy.challenge_ttl_ms
        async with self.uow(write=True) as tx:
            await tx.repo.add_challenge(
                nonce, principal.tenant_id, principal.user_id, expires, purge_before=now - CHALLENGE_RETENTION_MS
            )
        return nonce, expires

    async def claim(
        self,
        principal: Principal,
        token_text: str,
        tags: object,
        origin: Origin,
        *,
        dry_run: bool = False,
        done: RowDone | None = None,
    ) -> TokenClaimResult:
        return await self.core.counted(
            origin.door,
            TOKEN,
            self._claim(principal, token_text, tags, origin, dry_run=dry_run, done=done),
            lambda r: "dry_run" if dry_run else "success" if r.created else "already_yours",
        )

    async def _claim(
        self,
        principal: Principal,
        token_text: str,
        tags: object,
        origin: Origin,
        *,
        dry_run: bool,
        done: RowDone | None,
    ) -> TokenClaimResult:
        """Claim the device that signed ``token_text`` (an nRF91 identity attestation token).

        The signature is checked before the write transaction (it costs ~0.1 ms of CPU and needs no
        lock); the transaction then locks the device and decides. ``dry_run`` decides without writing.
        """
        core = self.core
        customer = core.require_claimer(principal)
        token = parse_claim_token(token_text)
        tag_names = parse_tags(tags)
        keys = core.guesses.claim_keys(principal, origin.source, str(token.device_id))
        await core.guesses.check(keys)
        async with self.uow() as tx:
            identity = await tx.repo.get_identity(principal.tenant_id, token.device_id)
        if identity is None:
            await core.guesses.failed(keys)
            raise UnknownDevice(f"No device identity {token.device_id} is registered")
        verified = self.keys.verify(identity.public_key, token)
        now = core.clock()
        async with core.transaction(self.uow, write=not dry_run) as claiming:
            target = await claiming.repo.lock_token_target(
                principal.tenant_id, token.device_id, token.nonce, principal.user_id
            )
            if target is None:
                raise UnknownDevice(f"No device identity {token.device_id} is registered")
            if not target.actor_exists:
                raise AuthenticationFailed("User not found")
            device = target.device
            try:
                if not verified or (
                    target.public_key != identity.public_key and not self.keys.verify(target.public_key, token)
                ):
                    raise BadSignature("The claim token's signature does not verify with the device's registered key")
                free = require_claimable(
                    core.ownership(principal, device),
                    "The device is claimed by another customer; it must be unclaimed there first",
                )
                if free:
                    self._check_nonce(principal, target, now)
            except (*_TOKEN_GUESSES, OwnedByAnother, DeviceBlocked) as exc:
                guess = keys if isinstance(exc, _TOKEN_GUESSES) else None
                if dry_run:  # a dry run writes nothing: counted, not audited
                    if guess is not None:
                        await core.guesses.failed(guess)
                    raise
                raise await core.refuse(claiming, exc, origin, device, principal, now, "claim token", guess) from None
            if dry_run:
                return TokenClaimResult(device, created=False)
            if not free:
                await record_row(claiming.repo, done, device.id)
                return TokenClaimResult(device, created=False)
            learn_type = device.type == "default"  # as nRF Cloud learns it, and the modem firmware
            claimed = await core.grant(
                claiming,
                principal,
                device,
                origin,
                now,
                detail="claim token",
                spends=(
                    NonceSpend(
                        token.nonce,
                        challenge_answered=target.challenge_user is not None,
                        firmware_id=token.firmware_id if identity.firmware_id is None else None,
                    ),
                ),
                learned_type=token.device_type_name if learn_type else None,
                done=done,
            )
            if claimed is None:
                raise OwnedByAnother("The device is claimed by another customer; it must be unclaimed there first")
            if tag_names:
                tag_ids = await claiming.repo.ensure_tags(principal.tenant_id, customer, tag_names, now)
                await claiming.repo.tag_device(device.id, tag_ids, customer, replace=False)
            return TokenClaimResult(claimed, created=True)

    def _check_nonce(self, principal: Principal, target: TokenTarget, now: int) -> None:
        """A free device: the token's nonce must be unspent, and answer this user's live challenge
        (or none, unless the tenant requires one)."""
        if target.nonce_used:
            raise ReplayedToken("This claim token was used before; ask the device for a new one")
        if target.challenge_user is None:
            if self.core.policy.require_challenge:
                raise ChallengeRequired(
                    "This tenant accepts only tokens made for a challenge from POST /v1/claim-challenges"
                )
            return
        if target.challenge_user != principal.user_id:
            raise ChallengeRequired("The token answers a challenge issued to another user")
        if target.challenge_expires_at is not None and target.challenge_expires_at < now:
            raise ChallengeExpired("The challenge this token answers has expired or was used; ask for a new one")

    async def void_token(self, tenant_id: uuid.UUID, token_text: str) -> bool:
        """Spend a claim token without a claim (a refused bulk row's: it was uploaded and may have been
        seen): its nonce is recorded as used, so it never claims later. Only a token that verifies with
        the device's registered key is spent: anyone can forge one with any nonce, and it must not spend
        the genuine token carrying that nonce. False when nothing was spent."""
        try:
            token: ClaimToken = parse_claim_token(token_text)
        except ClaimdError:
            return False
        async with self.uow() as tx:
            identity = await tx.repo.get_identity(tenant_id, token.device_id)
        if identity is None or not self.keys.verify(identity.public_key, token):
            return False
        async with self.uow(write=True) as tx:
            await tx.repo.void_nonce(token.device_id, token.nonce, self.core.clock())
        return True
