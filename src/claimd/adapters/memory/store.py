"""The in-memory store: its state, units of work over it, and their factory.

A write unit of work takes the store's one write lock for its whole length (as SQLite's ``BEGIN
IMMEDIATE`` does), so claims of one device are served one after the other; it works on a copy of the
state that replaces the state when it commits, and is dropped when it rolls back. Reads see the last
committed state.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from claimd.domain.attributes import StoredAttribute
from claimd.domain.claiming import ClaimData
from claimd.domain.lorawan import LorawanIdentity
from claimd.domain.model import AuditEvent, Device
from claimd.domain.ownership import DeviceIdentity


@dataclass
class MemoryState:
    devices: dict[uuid.UUID, Device] = field(default_factory=dict)
    users: set[uuid.UUID] = field(default_factory=set)
    attributes: dict[tuple[uuid.UUID, str, str], StoredAttribute] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    windows: dict[uuid.UUID, ClaimData] = field(default_factory=dict)
    rows_done: set[tuple[str, int]] = field(default_factory=set)
    # the token proof's
    identities: dict[uuid.UUID, DeviceIdentity] = field(default_factory=dict)
    nonces: set[tuple[uuid.UUID, bytes]] = field(default_factory=set)
    challenges: dict[bytes, tuple[uuid.UUID, int]] = field(default_factory=dict)  # nonce -> (user, expires at)
    tags: dict[tuple[uuid.UUID, str], str] = field(default_factory=dict)  # (scope, name) -> tag id
    device_tags: set[tuple[uuid.UUID, str]] = field(default_factory=set)
    # the LoRaWAN code proof's
    lorawan: dict[uuid.UUID, tuple[LorawanIdentity, bytes]] = field(
        default_factory=dict
    )  # device -> (identity, digest)
    applications: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)  # (customer, app id) -> id
    filed: dict[uuid.UUID, tuple[uuid.UUID, str]] = field(default_factory=dict)  # device -> (application, device id)


class MemoryClaimWindows:
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def open(self, device_id: uuid.UUID, data: ClaimData, now_ms: int) -> bool:
        existing = self.state.windows.get(device_id)
        if existing is not None and not existing.is_expired(now_ms):
            return False
        self.state.windows[device_id] = data
        return True

    async def take(self, device_id: uuid.UUID) -> ClaimData | None:
        return self.state.windows.pop(device_id, None)

    async def discard(self, device_id: uuid.UUID) -> None:
        self.state.windows.pop(device_id, None)


class MemoryUnitOfWork:
    def __init__(self, factory: MemoryUnitOfWorkFactory, write: bool) -> None:
        self._factory = factory
        self._write = write

    async def __aenter__(self) -> Self:
        factory = self._factory
        if self._write:
            await factory.write_lock.acquire()
            self._state = copy.deepcopy(factory.state)
        else:
            self._state = factory.state
        self.repo = factory.repo_class(self._state)
        self.windows = MemoryClaimWindows(self._state)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._write:
            return
        if exc_type is None:
            self._factory.state = self._state
        self._factory.write_lock.release()


class MemoryUnitOfWorkFactory:
    """Units of work over one :class:`MemoryState`, each with a ``repo_class(state)`` as its repository."""

    windows_need_write = True

    def __init__(self, repo_class: Callable[[MemoryState], Any], state: MemoryState | None = None) -> None:
        self.repo_class = repo_class
        self.state = state or MemoryState()
        self.write_lock = asyncio.Lock()

    def __call__(self, *, write: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self, write)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """No batches in memory: each unit of work inside commits on its own."""
        yield
