"""Limits on guessing, for every secret a client can try: a device's claim key (its window or the
``claimingData`` printed on the box), a LoRaWAN claim authentication code, a claim token and the
challenge it answers, a password, an API key.

An attempt is checked against its keys — the device, the acting user, the source address, or for a
login the account — before the secret is looked at; while any of them is locked, the attempt is
refused with :class:`LockedOut` (429 and ``Retry-After``), a right secret included, else a guesser
would learn which of its guesses was right. A wrong guess counts on every key; past a key's free
failures each one locks it for twice as long as the last (:class:`claimd.domain.lockout.Lockout`).
Right answers count nothing, so no amount of concurrent legitimate traffic meets a lock.

Claims check inside the transaction that holds the device's row lock: attempts on one device are
served one at a time across every node, so its count is exact, and buyers racing with a right
secret hear each other's outcome (409, already claimed), never a lock. Keys that span devices (a
user, an address) may let as many guesses through as run at that moment before the first is
counted; the lock then grows by every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from claimd.domain.errors import TooManyRequests
from claimd.domain.lockout import Lockout
from claimd.domain.model import Principal
from claimd.services.ports import NO_METRICS, Clock, FailureLimiter, Metrics

Keys = list[tuple[str, Lockout]]

#: Failed guesses of one kind on one device by one user from one address are audited as one row per
#: this period, with a count, so that a guesser cannot grow the audit log without bound.
AUDIT_AGGREGATE_MS = 3_600_000

#: What is being guessed, by the first key of an attempt (see claim_keys, login_keys, api_key_keys): the
#: ``kind`` label of the metrics.
_KINDS = {"user": "claim", "login": "login", "addr": "api_key"}


def guess_kind(keys: Keys) -> str:
    return _KINDS.get(keys[0][0].partition(":")[0], "other") if keys else "api_key"


@dataclass(frozen=True, slots=True)
class GuessPolicy:
    device: Lockout = Lockout(5)
    user: Lockout = Lockout(10)
    address: Lockout = Lockout(20)
    account: Lockout = Lockout(5)  # logins per e-mail address


class LockedOut(TooManyRequests):
    code = "LOCKED_OUT"


class ClaimLockedOut(LockedOut):
    code = "CLAIM_LOCKED_OUT"


class Guesses:
    def __init__(
        self, limiter: FailureLimiter, policy: GuessPolicy, clock: Clock, metrics: Metrics = NO_METRICS
    ) -> None:
        self.limiter = limiter
        self.policy = policy
        self.clock = clock
        self.metrics = metrics

    def claim_keys(self, principal: Principal, source: str | None, device: str | None) -> Keys:
        """A claim's keys: the device (any stable name of it within its tenant), the user, the address."""
        keys: Keys = [(f"user:{principal.user_id}", self.policy.user)]
        if device is not None:
            keys.append((f"dev:{principal.tenant_id}:{device}", self.policy.device))
        if source:
            keys.append((f"addr:{source}", self.policy.address))
        return keys

    def login_keys(self, email: str, source: str | None) -> Keys:
        keys: Keys = [(f"login:{email.strip().lower()}", self.policy.account)]
        if source:
            keys.append((f"addr:{source}", self.policy.address))
        return keys

    def api_key_keys(self, source: str | None) -> Keys:
        return [(f"addr:{source}", self.policy.address)] if source else []

    async def check(self, keys: Keys, what: str = "claim attempts", error: type[LockedOut] = ClaimLockedOut) -> None:
        """Refuse the attempt while any of ``keys`` is locked."""
        if keys:
            wait_ms = await self.limiter.locked(keys, self.clock())
            if wait_ms > 0:
                self.metrics.locked_out(guess_kind(keys))
            self._refuse(wait_ms, what, error)

    async def failed(self, keys: Keys) -> None:
        """Count a wrong guess on every one of ``keys``."""
        kind = guess_kind(keys)
        self.metrics.failed_guess(kind)
        if keys and await self.limiter.fail(keys, self.clock()) > 0:
            self.metrics.lockout(kind)

    @staticmethod
    def _refuse(wait_ms: int, what: str, error: type[LockedOut]) -> None:
        if wait_ms > 0:
            wait_s = -(-wait_ms // 1000)
            raise error(f"too many failed {what}; try again in {wait_s} s", retry_after_s=wait_s)
