"""Rows to domain objects: one mapper per table, shared by the repository and its mixins; and the two
small helpers every mixin uses (``unstorable``, ``upsert``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.domain.attributes import StoredAttribute
from claimd.domain.inputs import text_problem
from claimd.domain.model import NULL_UUID, AuditAction, AuditEvent, Authority, Customer, Device, Door, Tenant, User


def unstorable(*values: str | None) -> bool:
    """Whether a value is text no row can hold (PostgreSQL refuses NUL, no driver encodes a lone
    surrogate; claimd.domain.inputs): a look-up for such a value finds nothing, without asking."""
    return any(v is not None and text_problem(v) is not None for v in values)


def upsert(conn: AsyncConnection, table: Any) -> Any:
    """INSERT … ON CONFLICT in the connection's dialect."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value is not None else None


def str_or_none(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def device_row(row: Row[Any]) -> Device:
    return Device(
        id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id),
        customer_id=uuid_or_none(row.customer_id),
        name=row.name,
        type=row.type,
        label=row.label,
        additional_info=json.loads(row.additional_info),
        created_time=row.created_time,
        claimed_at=row.claimed_at,
        claimed_by=uuid_or_none(row.claimed_by),
        claim_restricted=bool(row.claim_restricted),
        blocked_at=row.blocked_at,
        blocked_by=row.blocked_by,
    )


def customer_row(row: Row[Any]) -> Customer:
    return Customer(
        id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id),
        title=row.title,
        email=row.email,
        additional_info=json.loads(row.additional_info),
        created_time=row.created_time,
    )


def tenant_row(row: Row[Any]) -> Tenant:
    return Tenant(
        id=uuid.UUID(row.id),
        title=row.title,
        created_time=row.created_time,
        email=row.email,
        contact=json.loads(row.contact),
        additional_info=json.loads(row.additional_info),
    )


def user_tenant(tenant_id: uuid.UUID) -> str | None:
    """A user's tenant as stored: NULL for a system administrator (NULL_UUID in the domain)."""
    return None if tenant_id == NULL_UUID else str(tenant_id)


def user_row(row: Row[Any]) -> User:
    return User(
        id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id) if row.tenant_id is not None else NULL_UUID,
        customer_id=uuid_or_none(row.customer_id),
        email=row.email,
        authority=Authority(row.authority),
        first_name=row.first_name,
        last_name=row.last_name,
        additional_info=json.loads(row.additional_info),
        enabled=row.password_hash is not None,
        created_time=row.created_time,
    )


def audit_row(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=uuid.UUID(row.id),
        tenant_id=uuid.UUID(row.tenant_id),
        created_time=row.created_time,
        action=AuditAction(row.action),
        outcome=row.outcome,
        door=Door(row.door),
        user_id=uuid_or_none(row.user_id),
        customer_id=uuid_or_none(row.customer_id),
        device_id=uuid_or_none(row.device_id),
        device_name=row.device_name,
        source=row.source,
        detail=row.detail,
        repeats=row.repeat_count,
        last_time=row.last_time,
    )


def attribute_row(row: Row[Any]) -> StoredAttribute:
    return StoredAttribute(row.key, json.loads(row.value), row.last_update_ts, row.secret_digest)
