"""SQL of the claim core: the locked claim target, a granted claim's writes (with what each proof
spends, registered by the proof's SQL module), the claim audit rows, and claim windows in SQL.

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository` (same connection, same transaction).

A proof's spend (services/claiming) is written by the :class:`SpendSql` its module registers with
:func:`register_spend`: named statements guarded by a condition, and their bind parameters. Bind names
of no column of the table a statement changes, or ``b_*``/``new_*`` for the core's (an UPDATE that
shares a parameter named after a column would SET that column).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, bindparam, case, delete, exists, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.rows import device_row, str_or_none, unstorable, upsert
from claimd.adapters.sql.tables import attributes, audit_log, claim_windows, devices, users
from claimd.domain.attributes import StoredAttribute
from claimd.domain.claiming import CLAIMING_DATA, ClaimData
from claimd.domain.model import AttributeScope, AuditEvent
from claimd.services.claiming.ports import ClaimTarget, ClaimWrites


@dataclass(frozen=True, slots=True)
class SpendSql:
    """How one kind of spend is written. ``statements(only_if)``: its statements by part name, each
    guarded by ``only_if`` (the owner was set); ``parts(spend)``: the parts this spend needs;
    ``params(spend, writes)``: their bind parameters; ``conflict(spend)``: the error to raise when a
    statement breaks a constraint (the claim's transaction is then rolled back whole)."""

    statements: Callable[[Any], dict[str, Any]]
    parts: Callable[[Any], tuple[str, ...]]
    params: Callable[[Any, ClaimWrites], dict[str, Any]]
    conflict: Callable[[Any], Exception] | None = None


_SPENDS: dict[type, SpendSql] = {}


def register_spend(kind: type, sql: SpendSql) -> None:
    _SPENDS[kind] = sql


def _claim_target(where: Any) -> Any:
    """The device ``where`` selects, locked, with its claimingData and whether the user ``actor`` exists.
    Built once: building a statement of this size per call cost ~0.7 ms of CPU (bench/, docs/performance.md)."""
    return (
        select(
            devices,
            attributes.c.key.label("attr_key"),
            attributes.c.value.label("attr_value"),
            attributes.c.secret_digest.label("attr_digest"),
            attributes.c.last_update_ts.label("attr_ts"),
            exists().where(users.c.id == bindparam("actor")).label("actor_exists"),
        )
        .outerjoin(
            attributes,
            and_(
                attributes.c.device_id == devices.c.id,
                attributes.c.scope == AttributeScope.SERVER_SCOPE.value,
                attributes.c.key == CLAIMING_DATA,
            ),
        )
        .where(where)
        .with_for_update(of=devices)
    )


_CLAIM_TARGET_BY_NAME = _claim_target(
    and_(devices.c.tenant_id == bindparam("tenant_id"), devices.c.name == bindparam("name"))
)
_CLAIM_TARGET_BY_ID = _claim_target(
    and_(devices.c.tenant_id == bindparam("tenant_id"), devices.c.id == bindparam("id"))
)

# The owner, only if there is none; a proof may also teach the device's type while it is "default"
# (here, since one PostgreSQL statement may change a row only once).
_SET_OWNER_IF_UNOWNED = (
    update(devices)
    .where(devices.c.id == bindparam("b_device_id"), devices.c.customer_id.is_(None))
    .values(
        customer_id=bindparam("new_customer_id"),
        claimed_at=bindparam("new_claimed_at"),
        claimed_by=bindparam("new_claimed_by"),
        claim_restricted=bindparam("new_claim_restricted"),
        type=case(
            (devices.c.type == "default", func.coalesce(bindparam("new_type", type_=String), devices.c.type)),
            else_=devices.c.type,
        ),
    )
)
DELETE_ATTRIBUTES = delete(attributes).where(
    attributes.c.device_id == bindparam("b_device_id"),
    attributes.c.scope == bindparam("b_scope"),
    attributes.c.key.in_(bindparam("keys", expanding=True)),
)
_ADD_AUDIT = insert(audit_log)
# The latest line of the same failed guess (bind names b_*), one more on it.
_SAME_FAILURE = (
    select(audit_log.c.id)
    .where(
        audit_log.c.device_id == bindparam("b_device_id"),
        audit_log.c.action == bindparam("b_action"),
        audit_log.c.outcome == bindparam("b_outcome"),
        audit_log.c.created_time >= bindparam("b_since"),
        audit_log.c.user_id.is_not_distinct_from(bindparam("b_user_id")),
        audit_log.c.source.is_not_distinct_from(bindparam("b_source")),
    )
    .order_by(audit_log.c.created_time.desc())
    .limit(1)
    .scalar_subquery()
)
_REPEAT_AUDIT = (
    update(audit_log)
    .where(audit_log.c.id == _SAME_FAILURE)
    .values(repeat_count=audit_log.c.repeat_count + 1, last_time=bindparam("b_created_time"))
)
_DISCARD_WINDOW = delete(claim_windows).where(claim_windows.c.device_id == bindparam("device_id"))


def audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "tenant_id": str(event.tenant_id),
        "created_time": event.created_time,
        "action": event.action.value,
        "outcome": event.outcome,
        "door": event.door.value,
        "user_id": str_or_none(event.user_id),
        "customer_id": str_or_none(event.customer_id),
        "device_id": str_or_none(event.device_id),
        "device_name": event.device_name,
        "source": event.source,
        "detail": event.detail,
        "repeat_count": event.repeats,
        "last_time": event.last_time,
    }


def _audit(only_if: Any) -> Any:  # INSERT … SELECT <bound values> WHERE only_if
    return insert(audit_log).from_select(
        [c.name for c in audit_log.c],
        select(*[bindparam(f"a_{c.name}", type_=c.type) for c in audit_log.c]).where(only_if),
    )


# On PostgreSQL, all of a claim's writes in one round trip: data-modifying CTEs all run, in one
# snapshot, so the writes after the owner's are guarded by its RETURNING.
_OWNER_TAKEN = _SET_OWNER_IF_UNOWNED.returning(devices.c.id).cte("owner_taken")
_IF_OWNER_TAKEN = exists(select(_OWNER_TAKEN.c.id))
_AUDIT, _AUDIT_WITH_OWNER = _audit(true()), _audit(_IF_OWNER_TAKEN)


@functools.cache
def _spend_statements(kind: type, guarded: bool) -> dict[str, Any]:
    """A spend's statements, built once: run one by one after the owner was set, or ``guarded`` as
    CTEs of the one statement."""
    return _SPENDS[kind].statements(_IF_OWNER_TAKEN if guarded else true())


@functools.cache
def _claim_writes_statement(parts: tuple[tuple[type, str], ...]) -> Any:
    return (
        select(func.count())
        .select_from(_OWNER_TAKEN)
        .add_cte(
            DELETE_ATTRIBUTES.cte("claim_attributes_gone"),
            _AUDIT_WITH_OWNER.cte("claim_audit"),
            *(_spend_statements(kind, True)[part].cte(f"claim_{part}") for kind, part in parts),
        )
    )


class ClaimQueries:
    conn: AsyncConnection

    async def lock_claim_target(self, tenant_id: uuid.UUID, name: str, actor: uuid.UUID) -> ClaimTarget | None:
        if unstorable(name):  # no device holds such a name: nothing to ask
            return None
        return await self._lock_claim_target(_CLAIM_TARGET_BY_NAME, {"tenant_id": str(tenant_id), "name": name}, actor)

    async def lock_claim_target_by_id(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID, actor: uuid.UUID
    ) -> ClaimTarget | None:
        return await self._lock_claim_target(
            _CLAIM_TARGET_BY_ID, {"tenant_id": str(tenant_id), "id": str(device_id)}, actor
        )

    async def _lock_claim_target(self, stmt: Any, params: dict[str, str], actor: uuid.UUID) -> ClaimTarget | None:
        row = (await self.conn.execute(stmt, {**params, "actor": str(actor)})).first()
        if row is None:
            return None
        claiming = (
            StoredAttribute(row.attr_key, json.loads(row.attr_value), row.attr_ts, row.attr_digest)
            if row.attr_key is not None
            else None
        )
        return ClaimTarget(device_row(row), claiming, bool(row.actor_exists))

    async def claim_writes(self, writes: ClaimWrites) -> bool:
        w = writes
        params: dict[str, Any] = {
            "b_device_id": str(w.device_id),
            "new_customer_id": str(w.customer_id),
            "new_claimed_at": w.now_ms,
            "new_claimed_by": str(w.claimed_by),
            "new_claim_restricted": w.restricted,
            "new_type": w.learned_type,
            "b_scope": AttributeScope.SERVER_SCOPE.value,
            "keys": list(w.clear),
            **{f"a_{k}": v for k, v in audit_values(w.audit).items()},
        }
        parts: list[tuple[type, str]] = []
        for spend in w.spends:
            sql = _SPENDS[type(spend)]
            parts.extend((type(spend), part) for part in sql.parts(spend))
            params.update(sql.params(spend, w))
        try:
            if self.conn.dialect.name == "postgresql":
                return bool((await self.conn.execute(_claim_writes_statement(tuple(parts)), params)).scalar_one())
            taken = (await self.conn.execute(_SET_OWNER_IF_UNOWNED, params)).rowcount == 1
            await self.conn.execute(DELETE_ATTRIBUTES, params)
            if taken:
                await self.conn.execute(_AUDIT, params)
                for kind, part in parts:
                    await self.conn.execute(_spend_statements(kind, False)[part], params)
            return taken
        except IntegrityError as exc:  # its transaction (or savepoint) is rolled back whole
            for spend in w.spends:
                conflict = _SPENDS[type(spend)].conflict
                if conflict is not None:
                    raise conflict(spend) from exc
            raise

    async def add_audit(self, event: AuditEvent) -> None:
        await self.conn.execute(_ADD_AUDIT, audit_values(event))

    async def add_failed_attempt(self, event: AuditEvent, since_ms: int) -> None:
        values = audit_values(event)
        same = ("device_id", "action", "outcome", "user_id", "source", "created_time")
        result = await self.conn.execute(_REPEAT_AUDIT, {"b_since": since_ms, **{f"b_{k}": values[k] for k in same}})
        if result.rowcount == 0:
            await self.conn.execute(_ADD_AUDIT, values)


class SqlClaimWindows:
    """Claim windows as rows of ``claim_windows``, in the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def open(self, device_id: uuid.UUID, data: ClaimData, now_ms: int) -> bool:
        stmt = upsert(self.conn, claim_windows).values(
            device_id=str(device_id), secret_digest=data.secret_digest, expires_at=data.expiration_time
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[claim_windows.c.device_id],
            set_={"secret_digest": stmt.excluded.secret_digest, "expires_at": stmt.excluded.expires_at},
            where=claim_windows.c.expires_at < now_ms,  # only an expired window gives way
        ).returning(claim_windows.c.device_id)
        return (await self.conn.execute(stmt)).first() is not None

    async def take(self, device_id: uuid.UUID) -> ClaimData | None:
        row = (
            await self.conn.execute(
                delete(claim_windows)
                .where(claim_windows.c.device_id == str(device_id))
                .returning(claim_windows.c.secret_digest, claim_windows.c.expires_at)
            )
        ).first()
        return ClaimData(bytes(row.secret_digest), row.expires_at) if row else None

    async def discard(self, device_id: uuid.UUID) -> None:
        await self.conn.execute(_DISCARD_WINDOW, {"device_id": str(device_id)})
