"""The claim core: what every proof's claim does the same way.

A claim is one transaction that first locks the device (``FOR UPDATE`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite): two buyers racing for one device are served one after the other. The proof
verifies what the claimer presents; the ownership decision (free, already yours, another's, blocked)
is the domain's one rule (domain/ownership.py); a granted claim writes the owner, the audit row,
the cleared claim attributes and what the proof spends in one round trip where the database allows.

The refusal rule, the same for every proof and every door: a claim of a device that exists, granted
or refused, leaves exactly one audit row with its outcome (a refusal's code: DEVICE_BLOCKED,
DEVICE_OWNED_BY_ANOTHER, CLAIM_TOKEN_REPLAYED, ...; ThingsBoard's FAILURE and CLAIMED for a secret
key), and a refusal is raised only after the transaction that wrote its row has committed
(:meth:`ClaimCore.refuse` and :meth:`ClaimCore.transaction`). Wrong guesses of one user from one
address are one row with a count (``AUDIT_AGGREGATE_MS``). Not audited: claims of devices that do not
exist (there is no device to file them under; they count as guesses), dry runs (they write nothing),
and attempts refused while a lockout lasts (counted in the metrics; the wrong guesses that caused it
are audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from claimd.domain.claiming import CLAIMING_ALLOWED, CLAIMING_DATA
from claimd.domain.errors import AuthenticationFailed, ClaimdError, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.lorawan import ClaimCodeNotValid, ClaimCodeSpent, DeviceAccessDenied
from claimd.domain.model import AuditAction, Authority, Device, Principal
from claimd.domain.ownership import (
    BadSignature,
    ChallengeExpired,
    ChallengeRequired,
    DeviceBlocked,
    OwnedByAnother,
    Ownership,
    ReplayedToken,
    decide_ownership,
    visible_to,
)
from claimd.domain.roles import DEVICE_CLAIM, DEVICE_READ_RESTRICTED
from claimd.services.claiming.ports import ClaimStore, ClaimTarget, ClaimWrites, Spend
from claimd.services.common import Origin, RowDone, audit_event, record_row
from claimd.services.guesses import AUDIT_AGGREGATE_MS, Guesses, Keys, LockedOut
from claimd.services.ports import NO_METRICS, Clock, Metrics
from claimd.services.uow import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
R = TypeVar("R", bound=ClaimStore)

CLAIM_ATTRIBUTES = (CLAIMING_ALLOWED, CLAIMING_DATA)  # a granted claim clears them


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    allow_claiming_by_default: bool = True
    default_duration_ms: int = 86_400_000
    challenge_ttl_ms: int = 300_000
    require_challenge: bool = False  # refuse claim tokens that do not answer a server challenge


# The labels of the claim metrics (services/ports.Metrics): the proof a claim presents, and how it ended.
SECRET_KEY, TOKEN, LORAWAN_CODE = "secret_key", "token", "lorawan_code"
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


class Claiming(Generic[R]):
    """A claim's transaction (see :meth:`ClaimCore.transaction`): its unit of work, committed when the
    block ends normally and rolled back on an exception — except the refusal :meth:`ClaimCore.refuse`
    audited in it, which is raised once the transaction (and the refusal's row) has committed."""

    __slots__ = ("refusal", "repo", "tx")

    def __init__(self, tx: UnitOfWork[R]) -> None:
        self.tx = tx
        self.refusal: ClaimdError | None = None

    async def __aenter__(self) -> Claiming[R]:
        await self.tx.__aenter__()
        self.repo: R = self.tx.repo
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None and exc is self.refusal:
            await self.tx.__aexit__(None, None, None)  # commit; the refusal propagates
        else:
            await self.tx.__aexit__(exc_type, exc, tb)


class ClaimCore:
    """The steps every proof's claim shares: who may claim, the locked target, the ownership
    decision, the granted claim's writes, the refusal rule, and the metrics."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[ClaimStore],
        clock: Clock,
        guesses: Guesses,
        policy: ClaimPolicy,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.guesses = guesses
        self.policy = policy
        self.metrics = metrics

    async def counted(self, door: str, proof: str, run: Awaitable[T], outcome: Callable[[T], str]) -> T:
        """``run``'s result, its ending counted in the metrics (door, proof, outcome) once."""
        try:
            result = await run
        except Exception as exc:
            self.metrics.claim(door, proof, refusal_outcome(exc))
            raise
        self.metrics.claim(door, proof, outcome(result))
        return result

    @staticmethod
    def require_claimer(principal: Principal) -> uuid.UUID:
        """The claimer's customer: only customer users whose role may claim (Device × Claim) claim."""
        if principal.authority is not Authority.CUSTOMER_USER or principal.customer_id is None:
            raise PermissionDenied()
        if not principal.can(DEVICE_CLAIM):
            raise PermissionDenied("Your role does not allow claiming devices (Device × Claim)")
        return principal.customer_id

    @staticmethod
    def transaction(uow: UnitOfWorkFactory[R], *, write: bool = True) -> Claiming[R]:
        """A claim's unit of work (``async with``): see :class:`Claiming`."""
        return Claiming(uow(write=write))

    @staticmethod
    async def lock(
        claiming: Claiming[R], principal: Principal, *, name: str | None = None, device_id: uuid.UUID | None = None
    ) -> ClaimTarget:
        """The device to claim or release (by name or by id), locked for the transaction; the acting
        user must still exist."""
        if device_id is not None:
            target = await claiming.repo.lock_claim_target_by_id(principal.tenant_id, device_id, principal.user_id)
        else:
            if not (name or "").strip():
                raise InvalidArgument("Parameter 'deviceName' can't be empty!")
            target = await claiming.repo.lock_claim_target(principal.tenant_id, name or "", principal.user_id)
        if target is None:
            raise NotFound()
        if not target.actor_exists:
            raise AuthenticationFailed("User not found")
        return target

    @staticmethod
    def ownership(principal: Principal, device: Device) -> Ownership:
        assert principal.customer_id is not None
        return decide_ownership(
            owner=device.customer_id,
            caller=principal.customer_id,
            blocked=device.is_blocked,
            visible=visible_to(principal, device),
        )

    async def audit(
        self,
        claiming: Claiming[R],
        outcome: str,
        origin: Origin,
        device: Device,
        principal: Principal,
        now: int,
        detail: str | None = None,
        guess: Keys | None = None,
    ) -> None:
        """A claim's one audit row. A wrong guess (``guess``: its keys) is also counted, and its row
        aggregated with the same user's guesses from the same address (guesses.AUDIT_AGGREGATE_MS)."""
        event = audit_event(AuditAction.CLAIM, outcome, origin, device, principal, now, detail=detail)
        if guess is None:
            await claiming.repo.add_audit(event)
            return
        await self.guesses.failed(guess)
        await claiming.repo.add_failed_attempt(event, now - AUDIT_AGGREGATE_MS)

    async def refuse(
        self,
        claiming: Claiming[R],
        refusal: ClaimdError,
        origin: Origin,
        device: Device,
        principal: Principal,
        now: int,
        detail: str | None = None,
        guess: Keys | None = None,
    ) -> ClaimdError:
        """Audit ``refusal`` (outcome: its code) in the claim's transaction, which commits it when the
        caller raises the refusal returned: ``raise await core.refuse(...)``."""
        await self.audit(claiming, refusal.code or "REFUSED", origin, device, principal, now, detail, guess)
        claiming.refusal = refusal
        return refusal

    async def grant(
        self,
        claiming: Claiming[R],
        principal: Principal,
        device: Device,
        origin: Origin,
        now: int,
        *,
        detail: str | None = None,
        outcome: str = "SUCCESS",
        spends: tuple[Spend, ...] = (),
        learned_type: str | None = None,
        done: RowDone | None = None,
        discard_window: bool = True,
    ) -> Device | None:
        """Give ``device`` to the claimer's customer: the owner, the cleared claim attributes, the audit
        row and ``spends`` in one round trip where the database allows; then the device's claim window
        goes and the bulk row ``done`` is marked. None: the device had an owner (only its claim
        attributes were cleared)."""
        assert principal.customer_id is not None
        claimed = replace(
            device,
            customer_id=principal.customer_id,
            claimed_at=now,
            claimed_by=principal.user_id,
            claim_restricted=principal.can(DEVICE_READ_RESTRICTED),
        )
        audit = audit_event(AuditAction.CLAIM, outcome, origin, claimed, principal, now, detail=detail)
        writes = ClaimWrites(
            device.id,
            principal.customer_id,
            principal.user_id,
            now,
            claimed.claim_restricted,
            audit,
            clear=CLAIM_ATTRIBUTES,
            learned_type=learned_type,
            spends=spends,
        )
        if not await claiming.repo.claim_writes(writes):
            return None
        if discard_window:
            await claiming.tx.windows.discard(device.id)
        await record_row(claiming.repo, done, device.id)
        return replace(claimed, type=learned_type) if learned_type is not None else claimed
