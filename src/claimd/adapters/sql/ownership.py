"""SQL of the ownership API: identities, nonces, challenges, tags, blocks, roles, API keys.

A mixin of :class:`claimd.adapters.sql.repository.SqlRepository` (same connection, same transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.rows import device_row, user_row
from claimd.adapters.sql.tables import (
    api_keys,
    device_identities,
    device_tags,
    devices,
    roles,
    tags,
    users,
)
from claimd.domain.access import ApiKeyRecord, UserAccess
from claimd.domain.errors import Conflict
from claimd.domain.ownership import ClaimedFilter, DeviceIdentity, Tag
from claimd.domain.roles import Role, parse_permissions


def _identity(row: Any) -> DeviceIdentity:
    return DeviceIdentity(
        device_id=uuid.UUID(row.device_id),
        tenant_id=uuid.UUID(row.tenant_id),
        public_key=bytes(row.public_key),
        created_time=row.created_time,
        firmware_id=uuid.UUID(row.firmware_id) if row.firmware_id else None,
        imei=row.imei,
    )


def _role(row: Any) -> Role:
    return Role(row.name, parse_permissions(json.loads(row.permissions)), row.description)


# The statements of a claim by token, built once: building and keying a statement costs more CPU
# than SQLite takes to run it (~0.3 ms for the token target), and a bulk job runs them per row.
_GET_IDENTITY = select(device_identities).where(
    device_identities.c.device_id == bindparam("device_id"), device_identities.c.tenant_id == bindparam("tenant_id")
)
_ADD_IDENTITY = insert(device_identities)
_IDENTITIES = select(device_identities).where(device_identities.c.device_id.in_(bindparam("ids", expanding=True)))
_TAG_NAMES = (
    select(device_tags.c.device_id, tags.c.name)
    .join(tags, tags.c.id == device_tags.c.tag_id)
    .where(device_tags.c.device_id.in_(bindparam("ids", expanding=True)), tags.c.scope_id == bindparam("scope_id"))
    .order_by(tags.c.name)
)


class OwnershipQueries:
    conn: AsyncConnection

    # identities ------------------------------------------------------------------------------
    async def add_identity(self, identity: DeviceIdentity) -> None:
        await self.conn.execute(
            _ADD_IDENTITY,
            {
                "device_id": str(identity.device_id),
                "tenant_id": str(identity.tenant_id),
                "public_key": identity.public_key,
                "created_time": identity.created_time,
                "firmware_id": str(identity.firmware_id) if identity.firmware_id else None,
                "imei": identity.imei,
            },
        )

    async def get_identity(self, tenant_id: uuid.UUID, device_id: uuid.UUID) -> DeviceIdentity | None:
        row = (
            await self.conn.execute(_GET_IDENTITY, {"device_id": str(device_id), "tenant_id": str(tenant_id)})
        ).first()
        return _identity(row) if row else None

    async def get_identities(self, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, DeviceIdentity]:
        if not device_ids:
            return {}
        rows = await self.conn.execute(_IDENTITIES, {"ids": [str(d) for d in device_ids]})
        return {uuid.UUID(r.device_id): _identity(r) for r in rows}

    async def set_blocked(self, device_id: uuid.UUID, blocked_at: int | None, blocked_by: str | None) -> None:
        await self.conn.execute(
            update(devices).where(devices.c.id == str(device_id)).values(blocked_at=blocked_at, blocked_by=blocked_by)
        )

    # claimed devices -------------------------------------------------------------------------
    async def list_claimed(
        self,
        tenant_id: uuid.UUID,
        scope_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        include_restricted: bool,
        where: ClaimedFilter,
        after: tuple[int, str] | None,
        limit: int,
    ) -> tuple[list[Any], int]:
        """Owned devices of a tenant (or of one customer), sorted by claim time then id."""
        sort_ts = func.coalesce(devices.c.claimed_at, 0)
        clauses = [devices.c.tenant_id == str(tenant_id), devices.c.customer_id.is_not(None)]
        if customer_id is not None:
            clauses.append(devices.c.customer_id == str(customer_id))
        if not include_restricted:
            clauses.append(devices.c.claim_restricted.is_(False))
        if where.status == "BLOCKED":
            clauses.append(devices.c.blocked_at.is_not(None))
        elif where.status == "READY":
            clauses.append(devices.c.blocked_at.is_(None))
        if where.device_type:
            clauses.append(devices.c.type == where.device_type)
        if where.claimed_after is not None:
            clauses.append(devices.c.claimed_at >= where.claimed_after)
        if where.claimed_before is not None:
            clauses.append(devices.c.claimed_at < where.claimed_before)
        if where.tags:
            matching = (
                select(device_tags.c.device_id)
                .join(tags, tags.c.id == device_tags.c.tag_id)
                .where(tags.c.scope_id == str(scope_id), tags.c.name.in_(where.tags))
                .group_by(device_tags.c.device_id)
            )
            if where.all_tags:
                matching = matching.having(func.count() == len(set(where.tags)))
            clauses.append(devices.c.id.in_(matching))
        condition = and_(*clauses)
        total = (await self.conn.execute(select(func.count()).select_from(devices).where(condition))).scalar_one()
        page_where = condition
        if after is not None:
            page_where = and_(condition, or_(sort_ts > after[0], and_(sort_ts == after[0], devices.c.id > after[1])))
        rows = (
            await self.conn.execute(select(devices).where(page_where).order_by(sort_ts, devices.c.id).limit(limit))
        ).all()
        return [device_row(r) for r in rows], total

    async def device_tag_names(
        self, device_ids: Iterable[uuid.UUID], scope_id: uuid.UUID
    ) -> dict[uuid.UUID, list[str]]:
        ids = [str(d) for d in device_ids]
        if not ids:
            return {}
        rows = await self.conn.execute(_TAG_NAMES, {"ids": ids, "scope_id": str(scope_id)})
        result: dict[uuid.UUID, list[str]] = {}
        for r in rows:
            result.setdefault(uuid.UUID(r.device_id), []).append(r.name)
        return result

    # tags ------------------------------------------------------------------------------------
    async def ensure_tags(
        self, tenant_id: uuid.UUID, scope_id: uuid.UUID, names: Iterable[str], now_ms: int
    ) -> list[str]:
        """The ids of the named tags of a scope, creating the missing ones."""
        names = list(dict.fromkeys(names))
        if not names:
            return []
        found = dict(
            (
                await self.conn.execute(
                    select(tags.c.name, tags.c.id).where(tags.c.scope_id == str(scope_id), tags.c.name.in_(names))
                )
            ).all()
        )
        missing = [n for n in names if n not in found]
        for name in missing:
            tag_id = str(uuid.uuid4())
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(
                        insert(tags).values(
                            id=tag_id, tenant_id=str(tenant_id), scope_id=str(scope_id), name=name, created_time=now_ms
                        )
                    )
                found[name] = tag_id
            except IntegrityError:  # created meanwhile by another transaction
                found[name] = (
                    await self.conn.execute(
                        select(tags.c.id).where(tags.c.scope_id == str(scope_id), tags.c.name == name)
                    )
                ).scalar_one()
        return [found[n] for n in names]

    async def tag_device(self, device_id: uuid.UUID, tag_ids: list[str], scope_id: uuid.UUID, replace: bool) -> None:
        if replace:
            await self.conn.execute(
                delete(device_tags).where(
                    device_tags.c.device_id == str(device_id),
                    device_tags.c.tag_id.in_(select(tags.c.id).where(tags.c.scope_id == str(scope_id))),
                )
            )
        if not tag_ids:
            return
        present = set(
            (
                await self.conn.execute(
                    select(device_tags.c.tag_id).where(
                        device_tags.c.device_id == str(device_id), device_tags.c.tag_id.in_(tag_ids)
                    )
                )
            ).scalars()
        )
        new = [t for t in tag_ids if t not in present]
        if new:
            await self.conn.execute(insert(device_tags), [{"tag_id": t, "device_id": str(device_id)} for t in new])

    async def list_tags(self, scope_id: uuid.UUID, names: list[str] | None = None) -> list[Tag]:
        """A scope's tags (or the named ones) with how many devices carry each."""
        count = select(func.count()).where(device_tags.c.tag_id == tags.c.id).scalar_subquery()
        stmt = select(tags, count.label("device_count")).where(tags.c.scope_id == str(scope_id))
        if names is not None:
            stmt = stmt.where(tags.c.name.in_(names))
        rows = await self.conn.execute(stmt.order_by(tags.c.name))
        return [Tag(r.name, r.description, r.created_time, r.device_count) for r in rows]

    async def get_tag(self, scope_id: uuid.UUID, name: str) -> Tag | None:
        return next(iter(await self.list_tags(scope_id, [name])), None)

    async def add_tag(
        self, tenant_id: uuid.UUID, scope_id: uuid.UUID, name: str, description: str | None, now_ms: int
    ) -> bool:
        """Create a tag; False (and nothing changed) when it exists."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(tags).values(
                        id=str(uuid.uuid4()),
                        tenant_id=str(tenant_id),
                        scope_id=str(scope_id),
                        name=name,
                        description=description,
                        created_time=now_ms,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def update_tag(self, scope_id: uuid.UUID, name: str, new_name: str, description: str | None) -> bool:
        try:
            async with self.conn.begin_nested():
                values = (
                    {"name": new_name}
                    if description is None
                    else {"name": new_name, "description": description or None}
                )
                result = await self.conn.execute(
                    update(tags).where(tags.c.scope_id == str(scope_id), tags.c.name == name).values(**values)
                )
        except IntegrityError as exc:
            raise Conflict(f"A tag named '{new_name}' already exists") from exc
        return result.rowcount == 1

    async def delete_tag(self, scope_id: uuid.UUID, name: str) -> bool:
        tag_id = select(tags.c.id).where(tags.c.scope_id == str(scope_id), tags.c.name == name).scalar_subquery()
        await self.conn.execute(delete(device_tags).where(device_tags.c.tag_id == tag_id))
        result = await self.conn.execute(delete(tags).where(tags.c.scope_id == str(scope_id), tags.c.name == name))
        return result.rowcount == 1

    # roles -----------------------------------------------------------------------------------
    async def add_role(self, tenant_id: uuid.UUID, role: Role, now_ms: int) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(roles).values(
                        id=str(uuid.uuid4()),
                        tenant_id=str(tenant_id),
                        name=role.name,
                        description=role.description,
                        permissions=json.dumps(sorted(str(p) for p in role.permissions)),
                        created_time=now_ms,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"Role '{role.name}' already exists") from exc

    async def update_role(self, tenant_id: uuid.UUID, role: Role) -> bool:
        result = await self.conn.execute(
            update(roles)
            .where(roles.c.tenant_id == str(tenant_id), roles.c.name == role.name)
            .values(description=role.description, permissions=json.dumps(sorted(str(p) for p in role.permissions)))
        )
        return result.rowcount == 1

    async def get_role(self, tenant_id: uuid.UUID, name: str) -> Role | None:
        row = (
            await self.conn.execute(select(roles).where(roles.c.tenant_id == str(tenant_id), roles.c.name == name))
        ).first()
        return _role(row) if row else None

    async def list_roles(self, tenant_id: uuid.UUID) -> list[Role]:
        rows = await self.conn.execute(select(roles).where(roles.c.tenant_id == str(tenant_id)).order_by(roles.c.name))
        return [_role(r) for r in rows]

    async def delete_role(self, tenant_id: uuid.UUID, name: str) -> bool:
        in_use = (
            await self.conn.execute(select(exists().where(users.c.tenant_id == str(tenant_id), users.c.role == name)))
        ).scalar_one()
        if in_use:
            raise Conflict(f"Role '{name}' is given to users; give them another role first")
        result = await self.conn.execute(delete(roles).where(roles.c.tenant_id == str(tenant_id), roles.c.name == name))
        return result.rowcount == 1

    async def set_user_role(self, user_id: uuid.UUID, role: str | None) -> None:
        await self.conn.execute(update(users).where(users.c.id == str(user_id)).values(role=role))

    async def get_user_access(self, user_id: uuid.UUID) -> UserAccess | None:
        """A user with its role name and, for a tenant role, that role's permissions: one statement."""
        stmt = (
            select(users, roles.c.permissions.label("role_permissions"), roles.c.description.label("role_description"))
            .outerjoin(roles, and_(roles.c.tenant_id == users.c.tenant_id, roles.c.name == users.c.role))
            .where(users.c.id == str(user_id))
        )
        row = (await self.conn.execute(stmt)).first()
        return _access(row) if row else None

    # API keys --------------------------------------------------------------------------------
    async def add_api_key(self, record: ApiKeyRecord, digest: bytes) -> None:
        await self.conn.execute(
            insert(api_keys).values(
                id=str(record.id),
                tenant_id=str(record.tenant_id),
                user_id=str(record.user_id),
                name=record.name,
                prefix=record.prefix,
                digest=digest,
                created_time=record.created_time,
            )
        )

    async def list_api_keys(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> list[ApiKeyRecord]:
        query = select(api_keys).where(api_keys.c.tenant_id == str(tenant_id))
        if user_id is not None:
            query = query.where(api_keys.c.user_id == str(user_id))
        rows = await self.conn.execute(query.order_by(api_keys.c.created_time, api_keys.c.id))
        return [_api_key(r) for r in rows]

    async def delete_api_key(self, tenant_id: uuid.UUID, key_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
        query = delete(api_keys).where(api_keys.c.id == str(key_id), api_keys.c.tenant_id == str(tenant_id))
        if user_id is not None:
            query = query.where(api_keys.c.user_id == str(user_id))
        return (await self.conn.execute(query)).rowcount == 1

    async def get_api_key_access(self, digest: bytes) -> tuple[uuid.UUID, UserAccess] | None:
        stmt = (
            select(
                users,
                api_keys.c.id.label("key_id"),
                roles.c.permissions.label("role_permissions"),
                roles.c.description.label("role_description"),
            )
            .join(users, users.c.id == api_keys.c.user_id)
            .outerjoin(roles, and_(roles.c.tenant_id == users.c.tenant_id, roles.c.name == users.c.role))
            .where(api_keys.c.digest == digest)
        )
        row = (await self.conn.execute(stmt)).first()
        return (uuid.UUID(row.key_id), _access(row)) if row else None


def _api_key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        uuid.UUID(row.id), uuid.UUID(row.tenant_id), uuid.UUID(row.user_id), row.name, row.prefix, row.created_time
    )


def _access(row: Any) -> UserAccess:
    custom = None
    if row.role_permissions is not None:
        custom = Role(row.role, parse_permissions(json.loads(row.role_permissions)), row.role_description)
    return UserAccess(user_row(row), row.role, custom, row.credentials_changed_at)
