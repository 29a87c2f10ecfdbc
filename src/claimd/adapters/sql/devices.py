"""SQL of devices, their attributes and the audit listing. A mixin of
:class:`claimd.adapters.sql.repository.SqlRepository`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from claimd.adapters.sql.base import QueryBase
from claimd.adapters.sql.claims import DELETE_ATTRIBUTES
from claimd.adapters.sql.rows import attribute_row, audit_row, device_row, str_or_none, unstorable, upsert
from claimd.adapters.sql.tables import (
    attributes,
    audit_log,
    claim_windows,
    customers,
    device_identities,
    device_tags,
    devices,
    lorawan_identities,
    tags,
)
from claimd.domain.attributes import NewAttribute, StoredAttribute
from claimd.domain.claiming import CLAIMING_DATA
from claimd.domain.device_list import AuditCursor, AuditQuery, DeviceCursor, DeviceKind, DeviceQuery, DeviceState
from claimd.domain.errors import Conflict
from claimd.domain.model import AttributeScope, AuditEvent, Device, Page

# Statements a claim (and a bulk row) runs, built once: building and keying a statement costs more
# CPU than SQLite takes to run it, and a bulk job runs them for every row.
_ADD_DEVICE = insert(devices)


# Statements of the hot paths, built once (building one costs more than running it through the cache).
_GET_DEVICE = select(devices).where(devices.c.id == bindparam("id"), devices.c.tenant_id == bindparam("tenant_id"))
_DEVICE_BY_NAME = select(devices).where(
    devices.c.tenant_id == bindparam("tenant_id"), devices.c.name == bindparam("name")
)
_DEVICE_BY_TOKEN = select(devices).where(devices.c.token_digest == bindparam("token_digest"))
_GET_ATTRIBUTE = select(attributes).where(
    attributes.c.device_id == bindparam("device_id"),
    attributes.c.scope == bindparam("scope"),
    attributes.c.key == bindparam("key"),
)


#: Above every character a device name holds: ``name < prefix + _LAST_CHARACTER`` ends a prefix's range.
_LAST_CHARACTER = "\U0010ffff"


class DeviceQueries(QueryBase):
    # devices ---------------------------------------------------------------------------------
    def _device_values(self, d: Device) -> dict[str, Any]:
        return {"name": d.name, "type": d.type, "label": d.label, "additional_info": json.dumps(d.additional_info)}

    async def add_device(self, device: Device, token_digest: bytes, token_sealed: str) -> None:
        values = {
            "id": str(device.id),
            "tenant_id": str(device.tenant_id),
            "customer_id": str_or_none(device.customer_id),
            "token_digest": token_digest,
            "token_sealed": token_sealed,
            "created_time": device.created_time,
            **self._device_values(device),
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(_ADD_DEVICE, values)
        except IntegrityError as exc:
            id_taken = (await self.conn.execute(select(exists().where(devices.c.id == str(device.id))))).scalar_one()
            token_taken = (
                await self.conn.execute(select(exists().where(devices.c.token_digest == token_digest)))
            ).scalar_one()
            if id_taken:
                message = f"A device with id {device.id} is already registered"
            elif token_taken:
                message = "Device credentials are already assigned to another device!"
            else:
                message = "Device with such name already exists!"
            raise Conflict(message) from exc

    async def update_device(self, device: Device) -> bool:
        stmt = (
            update(devices)
            .where(devices.c.id == str(device.id), devices.c.tenant_id == str(device.tenant_id))
            .values(**self._device_values(device))
        )
        return await self._write(stmt, "Device with such name already exists!") == 1

    async def get_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        row = (await self.conn.execute(_GET_DEVICE, {"id": str(device_id), "tenant_id": str(tenant_id)})).first()
        return device_row(row) if row else None

    async def get_device_by_name(self, tenant_id: uuid.UUID, name: str) -> Device | None:
        if unstorable(name):
            return None
        row = (await self.conn.execute(_DEVICE_BY_NAME, {"tenant_id": str(tenant_id), "name": name})).first()
        return device_row(row) if row else None

    async def get_device_by_token(self, token_digest: bytes) -> Device | None:  # a digest: never NUL-sensitive
        row = (await self.conn.execute(_DEVICE_BY_TOKEN, {"token_digest": token_digest})).first()
        return device_row(row) if row else None

    async def get_device_token(self, device_id: uuid.UUID) -> str | None:
        return (
            await self.conn.execute(select(devices.c.token_sealed).where(devices.c.id == str(device_id)))
        ).scalar_one_or_none()

    async def list_devices(
        self,
        tenant_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        page: int,
        page_size: int,
        text: str | None,
        device_type: str | None,
        sort: str | None = None,
        order: str | None = None,
        include_restricted: bool = True,
    ) -> Page[Device]:
        if unstorable(text, device_type):
            return Page([], 0, page_size)
        where = devices.c.tenant_id == str(tenant_id)
        if customer_id is not None:
            where = and_(where, devices.c.customer_id == str(customer_id))
        if text:
            where = and_(where, func.lower(devices.c.name).contains(text.lower(), autoescape=True))
        if device_type:
            where = and_(where, devices.c.type == device_type)
        if not include_restricted:
            where = and_(where, devices.c.claim_restricted.is_(False))
        return await self._page(devices, where, page, page_size, sort, order, device_row)

    async def delete_device(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> bool:
        result = await self.conn.execute(
            delete(devices).where(devices.c.id == str(device_id), devices.c.tenant_id == str(tenant_id))
        )
        return result.rowcount == 1

    async def set_owner(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> None:
        """Assign (a tenant's act, not a claim) or release. A release forgets the claim, the owner's
        block and the owner's tags: the next owner starts clean."""
        values: dict[str, Any] = {
            "customer_id": str_or_none(customer_id),
            "claimed_at": None,
            "claimed_by": None,
            "claim_restricted": False,
        }
        if customer_id is None:
            owner_block = devices.c.blocked_by == "OWNER"
            values["blocked_at"] = case((owner_block, None), else_=devices.c.blocked_at)
            values["blocked_by"] = case((owner_block, None), else_=devices.c.blocked_by)
            await self.conn.execute(
                delete(device_tags).where(
                    device_tags.c.device_id == str(device_id),
                    device_tags.c.tag_id.in_(
                        select(tags.c.id).where(
                            tags.c.scope_id
                            == select(devices.c.customer_id).where(devices.c.id == str(device_id)).scalar_subquery()
                        )
                    ),
                )
            )
        await self.conn.execute(update(devices).where(devices.c.id == str(device_id)).values(**values))

    # attributes ------------------------------------------------------------------------------
    async def save_attributes(self, device_id: uuid.UUID, scope: str, items: list[NewAttribute], now_ms: int) -> None:
        if not items:
            return
        stmt = upsert(self.conn, attributes).values(
            [
                {
                    "device_id": str(device_id),
                    "scope": scope,
                    "key": a.key,
                    "value": json.dumps(a.value),
                    "secret_digest": a.secret_digest,
                    "last_update_ts": now_ms,
                }
                for a in items
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[attributes.c.device_id, attributes.c.scope, attributes.c.key],
            set_={
                "value": stmt.excluded.value,
                "secret_digest": stmt.excluded.secret_digest,
                "last_update_ts": stmt.excluded.last_update_ts,
            },
        )
        await self.conn.execute(stmt)

    async def get_attributes(
        self, device_id: uuid.UUID, scope: str | None, keys: list[str] | None
    ) -> list[tuple[str, StoredAttribute]]:
        if keys and unstorable(*keys):
            keys = [k for k in keys if not unstorable(k)]
            if not keys:
                return []
        stmt = select(attributes).where(attributes.c.device_id == str(device_id))
        if scope is not None:
            stmt = stmt.where(attributes.c.scope == scope)
        if keys:
            stmt = stmt.where(attributes.c.key.in_(keys))
        rows = await self.conn.execute(stmt.order_by(attributes.c.scope, attributes.c.key))
        return [(r.scope, attribute_row(r)) for r in rows]

    async def get_attribute(self, device_id: uuid.UUID, scope: str, key: str) -> StoredAttribute | None:
        row = (
            await self.conn.execute(_GET_ATTRIBUTE, {"device_id": str(device_id), "scope": scope, "key": key})
        ).first()
        return attribute_row(row) if row else None

    async def delete_attributes(self, device_id: uuid.UUID, scope: str, keys: list[str]) -> None:
        keys = [k for k in keys if not unstorable(k)]
        if not keys:
            return
        await self.conn.execute(DELETE_ATTRIBUTES, {"b_device_id": str(device_id), "b_scope": scope, "keys": keys})

    # audit -----------------------------------------------------------------------------------
    async def list_audit(
        self, tenant_id: uuid.UUID, device_id: uuid.UUID | None, page: int, page_size: int
    ) -> Page[AuditEvent]:
        where = audit_log.c.tenant_id == str(tenant_id)
        if device_id is not None:
            where = and_(where, audit_log.c.device_id == str(device_id))
        return await self._page(audit_log, where, page, page_size, "createdTime", "DESC", audit_row)

    # the console's keyset listings ----------------------------------------------------------
    async def list_devices_after(
        self, tenant_id: uuid.UUID, query: DeviceQuery, after: DeviceCursor | None, limit: int
    ) -> list[tuple[Device, str | None]]:
        """Up to ``limit`` devices of the tenant in (name, id) order after ``after``, each with its
        owner's title. Served by the (tenant_id, name, id) index (migration 0011): the scan stops after
        ``limit`` matching rows, whatever the fleet's size; an owner filter uses (tenant_id, customer_id,
        name, id). A name prefix is a range of that index, checked exactly by ``substr``."""
        if unstorable(query.name_prefix, query.tag) or (after is not None and unstorable(after[0])):
            return []
        tenant = str(tenant_id)
        conds: list[Any] = [devices.c.tenant_id == tenant]
        if after is not None:
            conds.append(tuple_(devices.c.name, devices.c.id) > tuple_(literal(after[0]), literal(str(after[1]))))
        prefix = query.name_prefix
        if prefix:
            conds += [
                devices.c.name >= prefix,
                devices.c.name < prefix + _LAST_CHARACTER,
                func.substr(devices.c.name, 1, len(prefix)) == prefix,
            ]
        if query.customer_id is not None:
            conds.append(devices.c.customer_id == str(query.customer_id))
        if query.state is DeviceState.BLOCKED:
            conds.append(devices.c.blocked_at.is_not(None))
        elif query.state is DeviceState.CLAIMED:
            conds += [devices.c.customer_id.is_not(None), devices.c.blocked_at.is_(None)]
        elif query.state is DeviceState.UNCLAIMED:
            conds += [devices.c.customer_id.is_(None), devices.c.blocked_at.is_(None)]
        if query.tag:
            tag_id = select(tags.c.id).where(tags.c.scope_id == tenant, tags.c.name == query.tag).scalar_subquery()
            conds.append(exists().where(device_tags.c.tag_id == tag_id, device_tags.c.device_id == devices.c.id))
        if query.kind is DeviceKind.KEY:
            conds.append(
                or_(
                    exists().where(
                        attributes.c.device_id == devices.c.id,
                        attributes.c.scope == AttributeScope.SERVER_SCOPE.value,
                        attributes.c.key == CLAIMING_DATA,
                    ),
                    exists().where(claim_windows.c.device_id == devices.c.id),
                )
            )
        elif query.kind is DeviceKind.LORAWAN:
            conds.append(exists().where(lorawan_identities.c.device_id == devices.c.id))
        elif query.kind is DeviceKind.IDENTITY:
            conds.append(exists().where(device_identities.c.device_id == devices.c.id))
        stmt = (
            select(devices, customers.c.title.label("owner_title"))
            .select_from(devices.outerjoin(customers, customers.c.id == devices.c.customer_id))
            .where(*conds)
            .order_by(devices.c.name, devices.c.id)
            .limit(limit)
        )
        rows = await self.conn.execute(stmt)
        return [(device_row(r), r.owner_title) for r in rows]

    async def sql_window_expiry(self, device_id: uuid.UUID) -> int | None:
        """When the device's claim window kept in SQL expires (None: no such row)."""
        return (
            await self.conn.execute(
                select(claim_windows.c.expires_at).where(claim_windows.c.device_id == str(device_id))
            )
        ).scalar_one_or_none()

    async def search_audit(
        self, tenant_id: uuid.UUID, query: AuditQuery, before: AuditCursor | None, limit: int
    ) -> list[AuditEvent]:
        """Up to ``limit`` audit rows of the tenant, newest first, older than ``before``; exact device
        name, action and outcome filters. Served by (tenant_id, created_time): rare filters scan."""
        if unstorable(query.device_name, query.action, query.outcome):
            return []
        conds: list[Any] = [audit_log.c.tenant_id == str(tenant_id)]
        if before is not None:
            conds.append(
                tuple_(audit_log.c.created_time, audit_log.c.id) < tuple_(literal(before[0]), literal(str(before[1])))
            )
        if query.device_name:
            conds.append(audit_log.c.device_name == query.device_name)
        if query.action:
            conds.append(audit_log.c.action == query.action)
        if query.outcome:
            conds.append(audit_log.c.outcome == query.outcome)
        stmt = (
            select(audit_log)
            .where(*conds)
            .order_by(audit_log.c.created_time.desc(), audit_log.c.id.desc())
            .limit(limit)
        )
        return [audit_row(r) for r in await self.conn.execute(stmt)]
