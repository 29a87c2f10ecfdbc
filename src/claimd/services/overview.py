"""The console's overview: claims and failed claim attempts per day, and the tenant's
devices by state. Tenant admins only; one read unit of work, three aggregate queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from claimd.domain.errors import InvalidArgument
from claimd.domain.model import Principal
from claimd.services.devices import require_tenant_admin
from claimd.services.ports import Clock
from claimd.services.uow import UnitOfWorkFactory

DAY_MS = 86_400_000
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: str  # YYYY-MM-DD, UTC
    claims: int  # claims granted that day
    failed: int  # claim attempts refused that day (wrong secrets counted once per attempt)


@dataclass(frozen=True, slots=True)
class DeviceStates:
    total: int
    claimed: int  # owned by a customer (claimed or assigned), not blocked
    blocked: int
    windows_open: int | None  # devices waiting to be claimed with a live window; None: windows are not in SQL

    @property
    def unclaimed(self) -> int:
        return self.total - self.claimed - self.blocked


@dataclass(frozen=True, slots=True)
class Overview:
    days: list[DayCounts]  # oldest first, one per day, days without claims included
    devices: DeviceStates


class OverviewStore(Protocol):
    async def claim_days(self, tenant_id: uuid.UUID, since_ms: int) -> list[tuple[int, int, int]]:
        """(day number since the epoch, claims granted, attempts refused) of the tenant's claim audit
        rows since ``since_ms``; a refused row counts its repeats."""
        ...

    async def device_states(self, tenant_id: uuid.UUID, now_ms: int, count_windows: bool) -> DeviceStates: ...


class OverviewService:
    def __init__(self, uow: UnitOfWorkFactory[OverviewStore], clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    async def overview(self, principal: Principal, days: int = 30) -> Overview:
        require_tenant_admin(principal)
        if not 1 <= days <= MAX_DAYS:
            raise InvalidArgument(f"days must be 1 to {MAX_DAYS}")
        now = self.clock()
        first = now // DAY_MS - (days - 1)
        async with self.uow() as tx:
            found = {
                day: (claims, failed)
                for day, claims, failed in await tx.repo.claim_days(principal.tenant_id, first * DAY_MS)
            }
            states = await tx.repo.device_states(principal.tenant_id, now, self.uow.windows_need_write)
        return Overview(
            [
                DayCounts(
                    datetime.fromtimestamp(day * DAY_MS / 1000, UTC).strftime("%Y-%m-%d"), *found.get(day, (0, 0))
                )
                for day in range(first, first + days)
            ],
            states,
        )
