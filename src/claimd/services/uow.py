"""Units of work: one transaction each, and the factory that opens them.

Generic in the repository they expose, so that a use case can ask for no more than it needs: the
claim proofs type their units of work with their own narrow store Protocols (services/claiming/), the
other services with the whole :class:`claimd.services.stores.Repository`. The SQL adapter's units of
work satisfy all of them; the in-memory fakes (adapters/memory/) only the claim stores.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from typing import Protocol, Self, TypeVar

from claimd.domain.claiming import ClaimData

R_co = TypeVar("R_co", covariant=True)


class ClaimWindows(Protocol):
    """Device-side claim windows, one per device, kept until their own expiry."""

    async def open(self, device_id: uuid.UUID, data: ClaimData, now_ms: int) -> bool:
        """Store ``data`` unless a live window exists; an expired one is replaced. True if stored."""
        ...

    async def take(self, device_id: uuid.UUID) -> ClaimData | None:
        """Remove and return the device's window (every claim attempt spends it)."""
        ...

    async def discard(self, device_id: uuid.UUID) -> None: ...


class UnitOfWork(Protocol[R_co]):
    """One transaction: committed when the block ends normally, rolled back on an exception."""

    # Read-only members: an adapter may narrow them (SqlUnitOfWork.repo is a SqlRepository).
    @property
    def repo(self) -> R_co: ...

    @property
    def windows(self) -> ClaimWindows: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None: ...


class UnitOfWorkFactory(Protocol[R_co]):
    #: True when claim windows live in the SQL store: opening one then needs a write transaction
    #: (with Redis, a unit of work that only reads SQL and opens a window is a read).
    @property
    def windows_need_write(self) -> bool: ...

    def __call__(self, *, write: bool = False) -> UnitOfWork[R_co]: ...

    def batch(self) -> AbstractAsyncContextManager[None]:
        """An async context manager: one write transaction shared by many units of work (a bulk job's
        rows), committed when the block ends normally and rolled back, whole, on an exception. Inside
        it, the units of work the same task opens are savepoints of that transaction: one that ends
        with an exception undoes its own changes only. Batches do not nest; they hold the writer
        while they run, so keep them short."""
        ...
