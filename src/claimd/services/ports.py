"""What the services need from the outside world besides the store (that is services/stores/), as
Protocols that adapters implement: secrets, passwords, tokens, keys, failure limits, metrics and the clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from claimd.domain.attestation import ClaimToken
from claimd.domain.lockout import Lockout
from claimd.domain.model import Principal, User

T = TypeVar("T")

Clock = Callable[[], int]
"""Returns the current time in epoch milliseconds."""


class SecretHasher(Protocol):
    """Keyed digest of a secret, bound to a purpose and a subject (never a password hash: see ceilings)."""

    def digest(self, purpose: str, subject: str, secret: str) -> bytes: ...


class CpuPool(Protocol):
    """Where CPU-bound work runs (a worker process, or inline): ``fn`` and its arguments are picklable."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...


class Sealer(Protocol):
    """Reversible encryption for the few secrets that must be shown again (device access tokens)."""

    def seal(self, plaintext: str) -> str: ...

    def unseal(self, sealed: str) -> str: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


class TokenCodec(Protocol):
    """Issues and reads the JWTs of logged-in users."""

    def issue(self, user: User) -> tuple[str, str]: ...

    def principal(self, token: str) -> Principal: ...

    def refresh_claims(self, refresh_token: str) -> tuple[uuid.UUID, int]:
        """The user id of a refresh token and when it was issued (epoch ms)."""
        ...


class IdentityKeys(Protocol):
    """Device identity public keys: read what a tenant uploads, and check claim-token signatures."""

    def normalize(self, text: str) -> bytes:
        """A public key as given (PEM, raw point) as stored bytes; InvalidArgument if it is not one."""
        ...

    def verify(self, public_key: bytes, token: ClaimToken) -> bool: ...

    def jwt_claims(self, token: str, public_key: bytes | None) -> dict[str, Any] | None:
        """The claims of an ES256 JWT. With ``public_key``: None unless its signature verifies with
        it. Without: read unverified (to learn whose key to check); None if it is not a JWT."""
        ...


class FailureLimiter(Protocol):
    """Counts failed attempts per key and locks a key out for a growing time (see
    :class:`claimd.domain.lockout.Lockout`). In memory for one process, in Redis across nodes."""

    async def locked(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        """How long the most locked of ``keys`` stays locked (ms), or 0. Reads only."""
        ...

    async def fail(self, keys: list[tuple[str, Lockout]], now_ms: int) -> int:
        """Count one failure on every key (one atomic step), lock those past their free failures, and
        return how long the most locked of them now stays locked (ms), or 0."""
        ...


class Metrics(Protocol):
    """What claimd counts for its operator (adapters/metrics.py exports it to Prometheus). Every label
    is from a small fixed set — a door, a proof, an outcome, a kind — never an id, a name or a secret.
    Each call is made once, where the use case decides, and must cost microseconds."""

    def claim(self, door: str, proof: str, outcome: str) -> None:
        """A customer's claim attempt and how it ended (claims.CLAIM_OUTCOMES)."""

    def claim_window(self, door: str, outcome: str) -> None:
        """A device's claim message (it sent its key) and what became of it."""

    def failed_guess(self, kind: str) -> None:
        """A wrong secret counted against its keys (kind: claim, login or api_key)."""

    def lockout(self, kind: str) -> None:
        """A wrong secret that left one of its keys locked out."""

    def locked_out(self, kind: str) -> None:
        """An attempt refused because one of its keys is locked out."""

    def bulk_rows(self, operation: str, outcome: str, count: int) -> None:
        """``count`` rows of a bulk job done (outcome: ok or failed), once committed."""

    def bulk_job(self, operation: str, event: str) -> None:
        """A bulk job started (leased by this process's worker) or ended: completed or lease_lost."""

    def mqtt_connection(self, protocol: str, outcome: str) -> None:
        """An MQTT CONNECT answered (protocol 3.1, 3.1.1, 5.0; or none: refused before one)."""

    def mqtt_session(self, delta: int) -> None:
        """An MQTT session (an accepted CONNECT) began (+1) or ended (-1)."""


class NoMetrics:
    """Metrics that count nothing: the default of every service, for tests and tools."""

    def claim(self, door: str, proof: str, outcome: str) -> None: ...
    def claim_window(self, door: str, outcome: str) -> None: ...
    def failed_guess(self, kind: str) -> None: ...
    def lockout(self, kind: str) -> None: ...
    def locked_out(self, kind: str) -> None: ...
    def bulk_rows(self, operation: str, outcome: str, count: int) -> None: ...
    def bulk_job(self, operation: str, event: str) -> None: ...
    def mqtt_connection(self, protocol: str, outcome: str) -> None: ...
    def mqtt_session(self, delta: int) -> None: ...


NO_METRICS: Metrics = NoMetrics()
