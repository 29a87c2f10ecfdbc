"""SQL of the console's overview (services/overview.py): claims per day from the audit log, and
devices by state. A mixin of :class:`claimd.adapters.sql.repository.SqlRepository`."""

from __future__ import annotations

import uuid

from sqlalchemy import Integer, and_, bindparam, case, cast, func, select

from claimd.adapters.sql.base import QueryBase
from claimd.adapters.sql.tables import audit_log, claim_windows, devices
from claimd.domain.model import AuditAction
from claimd.services.overview import DAY_MS, DeviceStates

_DAY = cast(audit_log.c.created_time / DAY_MS, Integer)  # integer division on both dialects
_GRANTED = audit_log.c.outcome == "SUCCESS"
_CLAIM_DAYS = (
    select(
        _DAY.label("day"),
        func.sum(case((_GRANTED, 1), else_=0)),
        func.sum(case((_GRANTED, 0), else_=audit_log.c.repeat_count)),
    )
    .where(
        audit_log.c.tenant_id == bindparam("tenant_id"),
        audit_log.c.action == AuditAction.CLAIM.value,
        audit_log.c.created_time >= bindparam("since"),
    )
    .group_by(_DAY)
)
_BLOCKED = devices.c.blocked_at.is_not(None)
_DEVICE_STATES = select(
    func.count(),
    func.coalesce(func.sum(case((and_(devices.c.customer_id.is_not(None), ~_BLOCKED), 1), else_=0)), 0),
    func.coalesce(func.sum(case((_BLOCKED, 1), else_=0)), 0),
).where(devices.c.tenant_id == bindparam("tenant_id"))
_WINDOWS_OPEN = (
    select(func.count())
    .select_from(claim_windows.join(devices, devices.c.id == claim_windows.c.device_id))
    .where(
        devices.c.tenant_id == bindparam("tenant_id"),
        devices.c.customer_id.is_(None),
        claim_windows.c.expires_at >= bindparam("now"),
    )
)


class OverviewQueries(QueryBase):
    async def claim_days(self, tenant_id: uuid.UUID, since_ms: int) -> list[tuple[int, int, int]]:
        rows = await self.conn.execute(_CLAIM_DAYS, {"tenant_id": str(tenant_id), "since": since_ms})
        return [(int(day), int(claims), int(failed)) for day, claims, failed in rows]

    async def device_states(self, tenant_id: uuid.UUID, now_ms: int, count_windows: bool) -> DeviceStates:
        params = {"tenant_id": str(tenant_id), "now": now_ms}
        total, claimed, blocked = (await self.conn.execute(_DEVICE_STATES, params)).one()
        windows = (await self.conn.execute(_WINDOWS_OPEN, params)).scalar_one() if count_windows else None
        return DeviceStates(int(total), int(claimed), int(blocked), windows)
