"""The claim use cases: a device opens a claim window; a customer claims; an owner or tenant reclaims.

Every door calls these. A claim is one transaction that first locks the device (``FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), then spends the device's window: two buyers racing for
one device are served one after the other, so exactly one gets SUCCESS and the other CLAIMED.

The refusal rule, the same for every proof (secret key, claim token, LoRaWAN code) and every door: a
claim of a device that exists, granted or refused, leaves exactly one audit row with its outcome (a
refusal's code: DEVICE_BLOCKED, DEVICE_OWNED_BY_ANOTHER, CLAIM_TOKEN_REPLAYED, ...; ThingsBoard's
FAILURE and CLAIMED for a secret key), and a refusal is raised only after the transaction that wrote
its row has committed. Wrong guesses of one user from one address are one row with a count
(``AUDIT_AGGREGATE_MS``). Not audited: claims of devices that do not exist (there is no device to file
them under; they count as guesses), dry runs (they write nothing), and attempts refused while a
lockout lasts (counted in the metrics; the wrong guesses that caused it are audited).
"""

from __future__ import annotations

import enum
import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from typing import Any

from claimd.domain.attestation import parse_claim_token
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
from claimd.domain.errors import AuthenticationFailed, ClaimdError, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.lorawan import (
    ClaimCodeNotValid,
    ClaimCodeSpent,
    CodeClaimOutcome,
    DeviceAccessDenied,
    Lockout,
    LorawanIdentity,
    check_tts_id,
    code_usable,
    code_window_text,
    decide_code_claim,
    default_device_id,
    normalize_code,
    parse_eui,
)
from claimd.domain.model import AttributeScope, AuditAction, AuditEvent, Authority, Device, Principal
from claimd.domain.ownership import (
    BadSignature,
    ChallengeExpired,
    ChallengeRequired,
    DeviceBlocked,
    OwnedByAnother,
    ReplayedToken,
    TokenClaimOutcome,
    UnknownDevice,
    decide_token_claim,
    parse_tags,
    visible_to,
)
from claimd.domain.roles import DEVICE_CLAIM, DEVICE_READ_RESTRICTED, DEVICE_UNCLAIM
from claimd.services.common import Origin, RowDone, audit_event, change_owner, record_row
from claimd.services.guesses import AUDIT_AGGREGATE_MS, ClaimLockedOut, Guesses, LockedOut  # noqa: F401 (ClaimLockedOut: re-exported)
from claimd.services.ports import (
    NO_METRICS,
    ClaimTarget,
    ClaimWrites,
    Clock,
    IdentityKeys,
    LorawanTarget,
    Metrics,
    NewAttribute,
    SecretHasher,
    StoredAttribute,
    TokenTarget,
    UnitOfWork,
    UnitOfWorkFactory,
)

CLAIM_SECRET = "claim-secret"
CLAIM_ATTRIBUTES = (CLAIMING_ALLOWED, CLAIMING_DATA)  # a claim clears them
LORAWAN_CODE = "lorawan-code"


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    allow_claiming_by_default: bool = True
    default_duration_ms: int = 86_400_000
    challenge_ttl_ms: int = 300_000
    require_challenge: bool = False  # refuse claim tokens that do not answer a server challenge


#: Token refusals that count as wrong guesses (services/guesses.py): a forged, replayed or unasked-for token.
_TOKEN_GUESSES = (BadSignature, ReplayedToken, ChallengeRequired, ChallengeExpired)

CHALLENGE_RETENTION_MS = 86_400_000  # an expired challenge is kept a day, so that a late token hears "expired"


@dataclass(frozen=True, slots=True)
class TokenClaimResult:
    device: Device
    created: bool  # False: the caller already owned it (or a dry run)


class WindowResult(enum.StrEnum):
    """What became of a device's claim message. ThingsBoard tells the device none of this; the
    MQTT 5 door reports it in its PUBACK reason code, HTTP in a response header."""

    OPENED = "opened"
    KEPT = "kept"  # a live window exists and is kept (ThingsBoard's put-if-absent)
    ALREADY_CLAIMED = WindowVerdict.ALREADY_CLAIMED.value
    NOT_ALLOWED = WindowVerdict.NOT_ALLOWED.value


class NotClaimed(InvalidArgument):
    """Releasing a device that no one owns."""

    code = "NOT_CLAIMED"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    response: ClaimResponse
    device: Device


@dataclass(frozen=True, slots=True)
class CodeProof:
    """A LoRaWAN device's identifiers and claim authentication code, as a customer presents them."""

    join_eui: str
    dev_eui: str
    code: str


@dataclass(frozen=True, slots=True)
class CodeClaimResult:
    device: Device
    identity: LorawanIdentity  # as it is after the claim (its application and device id)
    created: bool  # False: the caller's customer already owned it


# The labels of the claim metrics (services/ports.Metrics): the proof a claim presents, and how it ended.
SECRET_KEY, TOKEN, LORAWAN_CODE_PROOF = "secret_key", "token", "lorawan_code"
_RESPONSE_OUTCOMES = {
    ClaimResponse.SUCCESS: "success",
    ClaimResponse.FAILURE: "wrong_secret",
    ClaimResponse.CLAIMED: "already_claimed",
}
# A refusal's outcome: the first class it is an instance of (subclasses before their bases).
_REFUSAL_OUTCOMES: tuple[tuple[type[BaseException], str], ...] = (
    (LockedOut, "locked_out"),
    (DeviceBlocked, "blocked"),
    (BadSignature, "wrong_secret"),
    (DeviceAccessDenied, "wrong_secret"),
    (ReplayedToken, "spent"),
    (ClaimCodeSpent, "spent"),
    (ChallengeRequired, "challenge"),
    (ChallengeExpired, "challenge"),
    (ClaimCodeNotValid, "not_valid_now"),
    (OwnedByAnother, "already_claimed"),
    (NotFound, "not_found"),
    (AuthenticationFailed, "unauthenticated"),
    (PermissionDenied, "not_allowed"),
    (InvalidArgument, "invalid"),
)
#: Every outcome a claim is counted with (``error``: anything unexpected, a database failure included).
CLAIM_OUTCOMES = ("success", "already_yours", "dry_run", *dict.fromkeys(o for _, o in _REFUSAL_OUTCOMES), "error")


def refusal_outcome(exc: BaseException) -> str:
    """The outcome label of a claim that ended with ``exc``."""
    for kind, outcome in _REFUSAL_OUTCOMES:
        if isinstance(exc, kind):
            return outcome
    return "error"


def code_digest(hasher: SecretHasher, tenant_id: uuid.UUID, dev_eui: str, code: str) -> bytes:
    """The stored form of a claim authentication code: bound to its tenant and DevEUI."""
    return hasher.digest(LORAWAN_CODE, f"{tenant_id}:{dev_eui}", normalize_code(code))


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


async def _lock_target(
    tx: UnitOfWork, principal: Principal, *, name: str | None = None, device_id: uuid.UUID | None = None
) -> ClaimTarget:
    """The device to claim or release (by name or by id), locked for the transaction; the acting user
    must still exist."""
    if device_id is not None:
        target = await tx.repo.lock_claim_target_by_id(principal.tenant_id, device_id, principal.user_id)
    else:
        if not (name or "").strip():
            raise InvalidArgument("Parameter 'deviceName' can't be empty!")
        target = await tx.repo.lock_claim_target(principal.tenant_id, name or "", principal.user_id)
    if target is None:
        raise NotFound()
    if not target.actor_exists:
        raise AuthenticationFailed("User not found")
    return target


def _require_claimer(principal: Principal) -> None:
    if principal.authority is not Authority.CUSTOMER_USER or principal.customer_id is None:
        raise PermissionDenied()
    if not principal.can(DEVICE_CLAIM):
        raise PermissionDenied("Your role does not allow claiming devices (Device × Claim)")


def _writes(
    claimed: Device, principal: Principal, origin: Origin, outcome: str, detail: str | None = None, **spends: Any
) -> ClaimWrites:
    """The writes that make ``claimed`` (see _claimed_by) so: its claim attributes cleared, the claim
    audited as ``outcome``, and ``spends`` (see ClaimWrites)."""
    assert claimed.customer_id is not None and claimed.claimed_at is not None
    audit = audit_event(AuditAction.CLAIM, outcome, origin, claimed, principal, claimed.claimed_at, detail=detail)
    return ClaimWrites(
        claimed.id,
        claimed.customer_id,
        principal.user_id,
        claimed.claimed_at,
        claimed.claim_restricted,
        audit,
        clear=CLAIM_ATTRIBUTES,
        **spends,
    )


def _claimed_by(principal: Principal, device: Device, now: int) -> Device:
    """``device`` as it is once ``principal``'s customer has claimed it."""
    assert principal.customer_id is not None
    return replace(
        device,
        customer_id=principal.customer_id,
        claimed_at=now,
        claimed_by=principal.user_id,
        claim_restricted=principal.can(DEVICE_READ_RESTRICTED),
    )


class ClaimService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: SecretHasher,
        policy: ClaimPolicy,
        clock: Clock,
        keys: IdentityKeys,
        guesses: Guesses,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.uow = uow
        self.hasher = hasher
        self.policy = policy
        self.clock = clock
        self.keys = keys
        self.guesses = guesses
        self.metrics = metrics

    async def _refused(self, tx: UnitOfWork, keys: list[tuple[str, Lockout]], event: AuditEvent) -> None:
        """A wrong guess: counted against ``keys`` and audited, aggregated (see guesses.AUDIT_AGGREGATE_MS)."""
        await self.guesses.failed(keys)
        await tx.repo.add_failed_attempt(event, event.created_time - AUDIT_AGGREGATE_MS)

    async def _audit_refusal(
        self,
        tx: UnitOfWork,
        refusal: ClaimdError,
        origin: Origin,
        device: Device,
        principal: Principal,
        now: int,
        detail: str | None = None,
        guess_keys: list[tuple[str, Lockout]] | None = None,
    ) -> None:
        """The refusal rule's one audit row, outcome = the refusal's code, in ``tx``; the caller raises
        ``refusal`` only after ``tx`` has committed. A wrong guess (``guess_keys``) is also counted, and
        its row aggregated with the same user's guesses from the same address."""
        event = audit_event(AuditAction.CLAIM, refusal.code or "REFUSED", origin, device, principal, now, detail=detail)
        if guess_keys is not None:
            await self._refused(tx, guess_keys, event)
        else:
            await tx.repo.add_audit(event)

    async def open_window(
        self, device: Device, message: DeviceClaimMessage, origin: Origin, *, fresh: bool = False
    ) -> WindowResult:
        """See _open_window; counted in the metrics by door and result."""
        try:
            result = await self._open_window(device, message, origin, fresh=fresh)
        except Exception as exc:
            self.metrics.claim_window(origin.door, refusal_outcome(exc))
            raise
        self.metrics.claim_window(origin.door, result.name.lower())  # opened, kept, already_claimed, not_allowed
        return result

    async def _open_window(
        self, device: Device, message: DeviceClaimMessage, origin: Origin, *, fresh: bool = False
    ) -> WindowResult:
        """Register a device-side claim window for ``device`` (already authenticated by its door).

        ``fresh``: the door read ``device`` from the store for this very message (HTTP, CoAP), so with
        windows in Redis, where no transaction would hold the row either, it is not read again. With
        windows in SQL, the device is read in the write transaction that opens the window. A refusal is
        audited in a write transaction of its own."""
        now = self.clock()
        async with self.uow(write=self.uow.windows_need_write) as tx:
            if fresh and not self.uow.windows_need_write:
                current: Device | None = device
            else:
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
            if verdict is WindowVerdict.ALLOWED:
                expires = window_expiry(now, message.duration_ms, self.policy.default_duration_ms)
                data = ClaimData(claim_digest(self.hasher, current.id, message.secret_key), expires)
                return WindowResult.OPENED if await tx.windows.open(current.id, data, now) else WindowResult.KEPT
        # Only refusals are audited: they are what a puzzled owner needs to see (TB #3931).
        async with self.uow(write=True) as tx:
            await tx.repo.add_audit(audit_event(AuditAction.CLAIM_WINDOW, verdict.value, origin, current, None, now))
        return WindowResult(verdict.value)

    async def claim(self, principal: Principal, device_name: str, secret_key: str, origin: Origin) -> ClaimResult:
        """See _claim; counted in the metrics (door, proof, outcome) once it has ended."""
        try:
            result = await self._claim(principal, device_name, secret_key, origin)
        except Exception as exc:
            self.metrics.claim(origin.door, SECRET_KEY, refusal_outcome(exc))
            raise
        self.metrics.claim(origin.door, SECRET_KEY, _RESPONSE_OUTCOMES[result.response])
        return result

    async def _claim(self, principal: Principal, device_name: str, secret_key: str, origin: Origin) -> ClaimResult:
        """A customer user claims a device of its tenant by name, proving it with ``secret_key``.

        Guessing is limited (services/guesses.py): a wrong key (FAILURE) counts against the device, the
        user and the address, checked while the device's row is locked."""
        _require_claimer(principal)
        now = self.clock()
        refusal: ClaimdError | None = None
        async with self.uow(write=True) as tx:
            try:
                target = await _lock_target(tx, principal, name=device_name)
            except NotFound:  # a name that does not exist is a wrong guess too
                keys = self.guesses.claim_keys(principal, origin.source, None)
                await self.guesses.check(keys)
                await self.guesses.failed(keys)
                raise
            device = target.device
            keys = self.guesses.claim_keys(principal, origin.source, str(device.id))
            await self.guesses.check(keys)
            data = await tx.windows.take(device.id) or _stored_claim_data(target.claiming_data)
            proof = check_proof(data, claim_digest(self.hasher, device.id, secret_key), now)
            decision = decide_claim(proof, device.is_assigned)
            if decision.assigns and device.is_blocked:  # the attempt spent the window, as every attempt does
                refusal = DeviceBlocked("The device is blocked by its tenant")
                await self._audit_refusal(tx, refusal, origin, device, principal, now)
            elif decision.assigns:  # SUCCESS: the owner, the attributes and the audit row in one round trip
                claimed = _claimed_by(principal, device, now)
                if await tx.repo.claim_writes(_writes(claimed, principal, origin, decision.response.value)):
                    return ClaimResult(decision.response, claimed)
                # unreachable while the device row is locked; the last line of defence (attributes cleared)
                decision = ClaimDecision(ClaimResponse.CLAIMED, clear_claim_attributes=False)
            if refusal is None:
                if decision.clear_claim_attributes:
                    await tx.repo.delete_attributes(
                        device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_ALLOWED, CLAIMING_DATA]
                    )
                event = audit_event(AuditAction.CLAIM, decision.response.value, origin, device, principal, now)
                if decision.response is ClaimResponse.FAILURE:
                    await self._refused(tx, keys, event)
                else:
                    await tx.repo.add_audit(event)
        if refusal is not None:  # raised once its audit row is committed (the refusal rule, module docstring)
            raise refusal
        return ClaimResult(decision.response, device)

    async def create_challenge(self, principal: Principal) -> tuple[bytes, int]:
        """A single-use nonce for ``AT%ATTESTTOKEN=<challenge>``: a token carrying it claims only for
        this user, and only until it expires."""
        _require_claimer(principal)
        now = self.clock()
        nonce = secrets.token_bytes(16)
        expires = now + self.policy.challenge_ttl_ms
        async with self.uow(write=True) as tx:
            await tx.repo.add_challenge(
                nonce, principal.tenant_id, principal.user_id, expires, purge_before=now - CHALLENGE_RETENTION_MS
            )
        return nonce, expires

    async def claim_with_token(
        self,
        principal: Principal,
        token_text: str,
        tags: object,
        origin: Origin,
        *,
        dry_run: bool = False,
        done: RowDone | None = None,
    ) -> TokenClaimResult:
        """See _claim_with_token; counted in the metrics once it has ended."""
        try:
            result = await self._claim_with_token(principal, token_text, tags, origin, dry_run=dry_run, done=done)
        except Exception as exc:
            self.metrics.claim(origin.door, TOKEN, refusal_outcome(exc))
            raise
        self.metrics.claim(
            origin.door, TOKEN, "dry_run" if dry_run else "success" if result.created else "already_yours"
        )
        return result

    async def _claim_with_token(
        self,
        principal: Principal,
        token_text: str,
        tags: object,
        origin: Origin,
        *,
        dry_run: bool = False,
        done: RowDone | None = None,
    ) -> TokenClaimResult:
        """Claim the device that signed ``token_text`` (an nRF91 identity attestation token).

        The signature is checked before the write transaction (it costs ~0.1 ms of CPU and needs no
        lock); the transaction then locks the device and decides. ``dry_run`` decides without writing.
        """
        _require_claimer(principal)
        customer = principal.customer_id
        assert customer is not None  # a claimer is a customer user (_require_claimer)
        token = parse_claim_token(token_text)
        tag_names = parse_tags(tags)
        keys = self.guesses.claim_keys(principal, origin.source, str(token.device_id))
        await self.guesses.check(keys)
        async with self.uow() as tx:
            identity = await tx.repo.get_identity(principal.tenant_id, token.device_id)
        if identity is None:
            await self.guesses.failed(keys)
            raise UnknownDevice(f"No device identity {token.device_id} is registered")
        verified = self.keys.verify(identity.public_key, token)
        now = self.clock()
        refusal: ClaimdError | None = None
        async with self.uow(write=not dry_run) as tx:
            target = await tx.repo.lock_token_target(
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
                outcome = decide_token_claim(
                    owner=device.customer_id, caller=customer, blocked=device.is_blocked, nonce_used=target.nonce_used
                )
                if outcome is TokenClaimOutcome.CLAIM:
                    self._check_challenge(principal, target, now)
                if outcome is TokenClaimOutcome.ALREADY_YOURS and not visible_to(principal, device):
                    # claimed by someone of the caller's customer whose claims the caller may not see
                    raise OwnedByAnother("The device is already claimed; it must be unclaimed first")
            except (*_TOKEN_GUESSES, OwnedByAnother, DeviceBlocked) as exc:
                refusal = exc
                guess = keys if isinstance(exc, _TOKEN_GUESSES) else None
                if not dry_run:
                    await self._audit_refusal(tx, exc, origin, device, principal, now, "claim token", guess_keys=guess)
                elif guess is not None:  # a dry run writes nothing: counted, not audited
                    await self.guesses.failed(guess)
            if refusal is None:
                if dry_run or outcome is TokenClaimOutcome.ALREADY_YOURS:
                    if not dry_run:
                        await record_row(tx, done, device.id)
                    return TokenClaimResult(device, created=False)
                claimed = _claimed_by(principal, device, now)
                learn_type = device.type == "default"  # as nRF Cloud learns it, and the modem firmware
                if not await tx.repo.claim_writes(
                    _writes(
                        claimed,
                        principal,
                        origin,
                        "SUCCESS",
                        "claim token",
                        nonce=token.nonce,
                        challenge_answered=target.challenge_user is not None,
                        device_type=token.device_type_name if learn_type else None,
                        firmware_id=token.firmware_id if identity.firmware_id is None else None,
                    )
                ):
                    raise OwnedByAnother("The device is claimed by another customer; it must be unclaimed there first")
                if learn_type:
                    claimed = replace(claimed, type=token.device_type_name)
                await tx.windows.discard(device.id)
                if tag_names:
                    tag_ids = await tx.repo.ensure_tags(principal.tenant_id, customer, tag_names, now)
                    await tx.repo.tag_device(device.id, tag_ids, customer, replace=False)
                await record_row(tx, done, device.id)
                return TokenClaimResult(claimed, created=True)
        raise refusal  # once its audit row is committed (the refusal rule, module docstring)

    async def claim_with_code(
        self,
        principal: Principal,
        proof: CodeProof,
        application_id: str,
        device_id: str | None,
        origin: Origin,
        *,
        done: RowDone | None = None,
    ) -> CodeClaimResult:
        """See _claim_with_code; counted in the metrics once it has ended."""
        try:
            result = await self._claim_with_code(principal, proof, application_id, device_id, origin, done=done)
        except Exception as exc:
            self.metrics.claim(origin.door, LORAWAN_CODE_PROOF, refusal_outcome(exc))
            raise
        self.metrics.claim(origin.door, LORAWAN_CODE_PROOF, "success" if result.created else "already_yours")
        return result

    async def _claim_with_code(
        self,
        principal: Principal,
        proof: CodeProof,
        application_id: str,
        device_id: str | None,
        origin: Origin,
        *,
        done: RowDone | None = None,
    ) -> CodeClaimResult:
        """Claim a LoRaWAN device by JoinEUI, DevEUI and claim authentication code into the caller's
        customer, filed in its application ``application_id`` (made on first use) as ``device_id``
        (default ``eui-<deveui>``). The code is spent: it claims the device for no one else.

        Wrong codes count against the device, the user and the source address (services/guesses.py):
        while any of them is locked out, every attempt is refused, a right code included."""
        _require_claimer(principal)
        application_id = check_tts_id(application_id, "target_application_ids.application_id")
        join_eui, dev_eui = parse_eui(proof.join_eui, what="JoinEUI"), parse_eui(proof.dev_eui, what="DevEUI")
        device_id = check_tts_id(device_id, "target_device_id") if device_id else default_device_id(dev_eui)
        digest = code_digest(self.hasher, principal.tenant_id, dev_eui, proof.code)
        now = self.clock()
        customer = principal.customer_id
        assert customer is not None
        refused: ClaimdError | None = None
        async with self.uow(write=True) as tx:
            target = await tx.repo.lock_lorawan_target(principal.tenant_id, dev_eui, principal.user_id)
            if target is not None and not target.actor_exists:
                raise AuthenticationFailed("User not found")
            keys = self.guesses.claim_keys(
                principal, origin.source, dev_eui if target is None else str(target.device.id)
            )
            await self.guesses.check(keys)
            try:
                outcome = self._decide_code_claim(principal, target, join_eui, dev_eui, digest, now)
            except ClaimdError as exc:
                refused = exc
                if target is None and isinstance(exc, DeviceAccessDenied):
                    await self.guesses.failed(keys)
                elif target is not None:  # its tenant sees the refusals in the audit log
                    await self._audit_refusal(
                        tx,
                        exc,
                        origin,
                        target.device,
                        principal,
                        now,
                        "claim authentication code",
                        guess_keys=keys if isinstance(exc, DeviceAccessDenied) else None,
                    )
            if refused is None:
                assert target is not None
                device, identity = target.device, target.identity
                if outcome is CodeClaimOutcome.ALREADY_YOURS:
                    if identity.application_id is None:  # e.g. assigned by the tenant: file it now
                        identity = await self._file(tx, principal, identity, application_id, device_id, now)
                    await record_row(tx, done, device.id)
                    return CodeClaimResult(device, identity, created=False)
                claimed = _claimed_by(principal, device, now)
                application = await tx.repo.ensure_application(principal.tenant_id, customer, application_id, now)
                if not await tx.repo.claim_writes(
                    _writes(
                        claimed,
                        principal,
                        origin,
                        "SUCCESS",
                        "claim authentication code",
                        filed=(application, device_id),
                    )
                ):
                    raise OwnedByAnother("the device is claimed by someone else")  # unreachable: the row is locked
                identity = replace(identity, code_spent_at=now, application_id=application_id, app_device_id=device_id)
                await tx.windows.discard(device.id)
                await record_row(tx, done, device.id)
                return CodeClaimResult(claimed, identity, created=True)
        raise refused

    @staticmethod
    async def _file(
        tx: UnitOfWork, principal: Principal, identity: LorawanIdentity, application_id: str, device_id: str, now: int
    ) -> LorawanIdentity:
        """Spend the code and file the device in the caller's application (made on first use)."""
        assert principal.customer_id is not None
        application = await tx.repo.ensure_application(principal.tenant_id, principal.customer_id, application_id, now)
        await tx.repo.spend_code(identity.device_id, now, application, device_id)
        return replace(identity, code_spent_at=now, application_id=application_id, app_device_id=device_id)

    def _decide_code_claim(
        self, principal: Principal, target: LorawanTarget | None, join_eui: str, dev_eui: str, digest: bytes, now: int
    ) -> CodeClaimOutcome:
        assert principal.customer_id is not None
        if target is None:
            hmac.compare_digest(digest, digest)  # as long as a comparison with a stored digest
            return decide_code_claim(
                proven=False,
                dev_eui=dev_eui,
                owner=None,
                caller=principal.customer_id,
                spent=False,
                usable=False,
                blocked=False,
            )
        identity, device = target.identity, target.device
        proven = hmac.compare_digest(target.code_digest, digest) & (identity.join_eui == join_eui)
        outcome = decide_code_claim(
            proven=proven,
            dev_eui=dev_eui,
            owner=device.customer_id,
            caller=principal.customer_id,
            spent=identity.code_spent_at is not None,
            usable=code_usable(identity.valid_from, identity.valid_to, now),
            blocked=device.is_blocked,
            window=code_window_text(identity.valid_from, identity.valid_to),
        )
        if outcome is CodeClaimOutcome.ALREADY_YOURS and not visible_to(principal, device):
            # claimed by someone of the caller's customer whose claims the caller may not see
            raise OwnedByAnother("The device is already claimed; it must be unclaimed first")
        return outcome

    def _check_challenge(self, principal: Principal, target: TokenTarget, now: int) -> None:
        if target.challenge_user is None:
            if self.policy.require_challenge:
                raise ChallengeRequired(
                    "This tenant accepts only tokens made for a challenge from POST /v1/claim-challenges"
                )
            return
        if target.challenge_user != principal.user_id:
            raise ChallengeRequired("The token answers a challenge issued to another user")
        if target.challenge_expires_at is not None and target.challenge_expires_at < now:
            raise ChallengeExpired("The challenge this token answers has expired or was used; ask for a new one")

    async def reclaim(self, principal: Principal, device_name: str, origin: Origin) -> Device:
        """Release a device by name (ThingsBoard's reclaim)."""
        return await self._release(principal, origin, name=device_name)

    async def unclaim(self, principal: Principal, device_id: uuid.UUID, origin: Origin) -> Device:
        """Release a device by id (nRF Cloud's unclaim)."""
        return await self._release(principal, origin, device_id=device_id)

    async def _release(
        self, principal: Principal, origin: Origin, *, name: str | None = None, device_id: uuid.UUID | None = None
    ) -> Device:
        """Its owner's users (with Device × Unclaim) may release a device, its tenant admins any device."""
        if principal.authority not in (Authority.TENANT_ADMIN, Authority.CUSTOMER_USER):
            raise PermissionDenied()
        now = self.clock()
        async with self.uow(write=True) as tx:
            target = await _lock_target(tx, principal, name=name, device_id=device_id)
            device = target.device
            if principal.is_customer_user:
                if not device.is_assigned and name is not None:  # by id, as nRF Cloud: not yours = not found
                    raise NotClaimed("The device is not claimed: there is nothing to reclaim")
                if not visible_to(principal, device):
                    # ThingsBoard lets any customer user do this (bug #6742); by id, not yours = not found
                    raise PermissionDenied() if name is not None else NotFound()
                if not principal.can(DEVICE_UNCLAIM):
                    raise PermissionDenied()
            await tx.windows.discard(device.id)
            if device.is_assigned:
                await change_owner(tx, device, None, now)
                # A claim secret lasts for the ownership it was set in: a key planted by someone of
                # the owner never claims the device for anyone after the release. (ThingsBoard's
                # assign and unassign keep them, as there.)
                await tx.repo.delete_attributes(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_DATA])
            if reclaim_restores_claiming_allowed(
                allow_by_default=self.policy.allow_claiming_by_default, was_assigned=device.is_assigned
            ):
                await tx.repo.save_attributes(
                    device.id, AttributeScope.SERVER_SCOPE, [NewAttribute(CLAIMING_ALLOWED, True)], now
                )
            outcome = "UNASSIGNED" if device.is_assigned else "NOT_ASSIGNED"
            await tx.repo.add_audit(audit_event(AuditAction.RECLAIM, outcome, origin, device, principal, now))
        return replace(device, customer_id=None, claimed_at=None, claimed_by=None, claim_restricted=False)

    async def void_token(self, tenant_id: uuid.UUID, token_text: str) -> bool:
        """Spend a claim token without a claim (a refused bulk row's: it was uploaded and may have been
        seen): its nonce is recorded as used, so it never claims later. Only a token that verifies with
        the device's registered key is spent: anyone can forge one with any nonce, and it must not spend
        the genuine token carrying that nonce. False when nothing was spent."""
        try:
            token = parse_claim_token(token_text)
        except ClaimdError:
            return False
        async with self.uow() as tx:
            identity = await tx.repo.get_identity(tenant_id, token.device_id)
        if identity is None or not self.keys.verify(identity.public_key, token):
            return False
        async with self.uow(write=True) as tx:
            await tx.repo.void_nonce(token.device_id, token.nonce, self.clock())
        return True
