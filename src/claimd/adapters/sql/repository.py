"""The SQL repository, the SQL claim windows and the unit of work, over SQLAlchemy Core."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.adapters.sql.bulk import BulkQueries
from claimd.adapters.sql.claims import DELETE_ATTRIBUTES, ClaimQueries, SqlClaimWindows
from claimd.adapters.sql.code_claims import CodeClaimQueries
from claimd.adapters.sql.database import Database
from claimd.adapters.sql.lorawan import LorawanQueries
from claimd.adapters.sql.ownership import OwnershipQueries
from claimd.adapters.sql.provisioning import ProvisioningQueries
from claimd.adapters.sql.rows import (
    attribute_row,
    audit_row,
    customer_row,
    device_row,
    str_or_none,
    tenant_row,
    unstorable,
    upsert,
    user_row,
    user_tenant,
)
from claimd.adapters.sql.tables import (
    api_keys,
    attributes,
    audit_log,
    claim_challenges,
    customers,
    device_identities,
    device_tags,
    devices,
    lorawan_applications,
    lorawan_identities,
    provisioning_commands,
    tags,
    tenants,
    users,
)
from claimd.adapters.sql.token_claims import TokenClaimQueries
from claimd.domain.errors import Conflict
from claimd.domain.model import AuditEvent, Authority, Customer, Device, Page, Tenant, User
from claimd.services.ports import NewAttribute, StoredAttribute
from claimd.services.uow import ClaimWindows

_SORTABLE = {
    "createdTime": "created_time",
    "name": "name",
    "title": "title",
    "email": "email",
    "type": "type",
    "label": "label",
}


#: Tables that hold a tenant's rows without a foreign key to it (deleted with the tenant by hand).
_TENANT_OWNED = (
    audit_log,
    device_identities,
    claim_challenges,
    api_keys,
    provisioning_commands,
    lorawan_applications,
    lorawan_identities,
)


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


class SqlRepository(
    ClaimQueries,
    TokenClaimQueries,
    CodeClaimQueries,
    OwnershipQueries,
    BulkQueries,
    ProvisioningQueries,
    LorawanQueries,
):
    """Implements :class:`claimd.services.ports.Repository` on one connection."""

    def __init__(self, conn: AsyncConnection, counts: dict[str, list[int]] | None = None) -> None:
        self.conn = conn
        self.counts = counts

    async def _page(
        self, table: Any, where: Any, page: int, page_size: int, sort: str | None, order: str | None, mapper: Any
    ) -> Page[Any]:
        total = (await self.conn.execute(select(func.count()).select_from(table).where(where))).scalar_one()
        name = _SORTABLE.get(sort or "", "created_time")
        column = table.c.get(name, table.c.created_time)
        ordering = column.desc() if (order or "").upper() == "DESC" else column.asc()
        rows = await self.conn.execute(
            select(table).where(where).order_by(ordering, table.c.id).limit(page_size).offset(page * page_size)
        )
        return Page([mapper(r) for r in rows], total, page_size)

    async def _insert(self, stmt: Any, conflict_message: str) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(stmt)
        except IntegrityError as exc:
            raise Conflict(conflict_message) from exc

    # tenants ---------------------------------------------------------------------------------
    async def count_tenants(self) -> int:
        return (await self.conn.execute(select(func.count()).select_from(tenants))).scalar_one()

    async def count_users(self, authority: Authority | None = None) -> int:
        query = select(func.count()).select_from(users)
        if authority is not None:
            query = query.where(users.c.authority == authority.value)
        return (await self.conn.execute(query)).scalar_one()

    def _tenant_values(self, t: Tenant) -> dict[str, Any]:
        return {
            "title": t.title,
            "email": t.email,
            "contact": json.dumps(t.contact),
            "additional_info": json.dumps(t.additional_info),
        }

    async def add_tenant(self, tenant: Tenant) -> None:
        await self._insert(
            insert(tenants).values(id=str(tenant.id), created_time=tenant.created_time, **self._tenant_values(tenant)),
            f"Tenant '{tenant.title}' already exists!",
        )

    async def update_tenant(self, tenant: Tenant) -> bool:
        stmt = update(tenants).where(tenants.c.id == str(tenant.id)).values(**self._tenant_values(tenant))
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(stmt)
        except IntegrityError as exc:
            raise Conflict(f"Tenant '{tenant.title}' already exists!") from exc
        return result.rowcount == 1

    async def get_tenant(self, tenant_id: uuid.UUID) -> Tenant | None:
        row = (await self.conn.execute(select(tenants).where(tenants.c.id == str(tenant_id)))).first()
        return tenant_row(row) if row else None

    async def list_tenants(
        self, page: int, page_size: int, text: str | None, sort: str | None = None, order: str | None = None
    ) -> Page[Tenant]:
        if unstorable(text):
            return Page([], 0, page_size)
        where = func.lower(tenants.c.title).contains(text.lower(), autoescape=True) if text else true()
        return await self._page(tenants, where, page, page_size, sort, order, tenant_row)

    async def delete_tenant(self, tenant_id: uuid.UUID) -> bool:
        """The tenant with its customers, users and devices (ON DELETE CASCADE), and what refers to
        its id without a foreign key."""
        tid = str(tenant_id)
        for table in _TENANT_OWNED:
            await self.conn.execute(delete(table).where(table.c.tenant_id == tid))
        result = await self.conn.execute(delete(tenants).where(tenants.c.id == tid))
        return result.rowcount == 1

    # customers -------------------------------------------------------------------------------
    def _customer_values(self, c: Customer) -> dict[str, Any]:
        return {"title": c.title, "email": c.email, "additional_info": json.dumps(c.additional_info)}

    async def add_customer(self, customer: Customer) -> None:
        await self._insert(
            insert(customers).values(
                id=str(customer.id),
                tenant_id=str(customer.tenant_id),
                created_time=customer.created_time,
                **self._customer_values(customer),
            ),
            "Customer with such title already exists!",
        )

    async def update_customer(self, customer: Customer) -> bool:
        stmt = (
            update(customers)
            .where(customers.c.id == str(customer.id), customers.c.tenant_id == str(customer.tenant_id))
            .values(**self._customer_values(customer))
        )
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(stmt)
        except IntegrityError as exc:
            raise Conflict("Customer with such title already exists!") from exc
        return result.rowcount == 1

    async def get_customer(self, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        row = (
            await self.conn.execute(
                select(customers).where(customers.c.id == str(customer_id), customers.c.tenant_id == str(tenant_id))
            )
        ).first()
        return customer_row(row) if row else None

    async def list_customers(
        self,
        tenant_id: uuid.UUID,
        page: int,
        page_size: int,
        text: str | None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[Customer]:
        where = customers.c.tenant_id == str(tenant_id)
        if unstorable(text):
            return Page([], 0, page_size)
        if text:
            where = and_(where, func.lower(customers.c.title).contains(text.lower(), autoescape=True))
        return await self._page(customers, where, page, page_size, sort, order, customer_row)

    async def delete_customer(self, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        # Devices of the customer become unassigned (ON DELETE SET NULL); its users go with it.
        result = await self.conn.execute(
            delete(customers).where(customers.c.id == str(customer_id), customers.c.tenant_id == str(tenant_id))
        )
        return result.rowcount == 1

    # users -----------------------------------------------------------------------------------
    async def add_user(self, user: User, activation_digest: bytes | None, password_hash: str | None = None) -> None:
        await self._insert(
            insert(users).values(
                id=str(user.id),
                tenant_id=user_tenant(user.tenant_id),
                customer_id=str_or_none(user.customer_id),
                email=user.email,
                authority=user.authority.value,
                first_name=user.first_name,
                last_name=user.last_name,
                additional_info=json.dumps(user.additional_info),
                password_hash=password_hash,
                activation_digest=activation_digest,
                created_time=user.created_time,
            ),
            f"User with email '{user.email}' already present in database!",
        )

    async def get_user(self, user_id: uuid.UUID) -> User | None:
        row = (await self.conn.execute(select(users).where(users.c.id == str(user_id)))).first()
        return user_row(row) if row else None

    async def get_login(self, email: str) -> tuple[User, str | None] | None:
        if unstorable(email):
            return None
        row = (await self.conn.execute(select(users).where(func.lower(users.c.email) == email.lower()))).first()
        return (user_row(row), row.password_hash) if row else None

    async def set_activation_digest(self, user_id: uuid.UUID, digest: bytes) -> None:
        await self.conn.execute(update(users).where(users.c.id == str(user_id)).values(activation_digest=digest))

    async def activate(self, activation_digest: bytes, password_hash: str) -> User | None:
        row = (
            await self.conn.execute(
                update(users)
                .where(users.c.activation_digest == activation_digest)
                .values(password_hash=password_hash, activation_digest=None)
                .returning(*users.c)
            )
        ).first()
        return user_row(row) if row else None

    async def set_password(self, user_id: uuid.UUID, password_hash: str, changed_at_ms: int) -> bool:
        """A new password; JWTs issued before ``changed_at_ms`` are refused from now on."""
        result = await self.conn.execute(
            update(users)
            .where(users.c.id == str(user_id))
            .values(password_hash=password_hash, credentials_changed_at=changed_at_ms, activation_digest=None)
        )
        return result.rowcount > 0

    async def set_reset_digest(self, user_id: uuid.UUID, digest: bytes, expires_at: int) -> None:
        await self.conn.execute(
            update(users).where(users.c.id == str(user_id)).values(reset_digest=digest, reset_expires_at=expires_at)
        )

    async def reset_password(
        self, reset_digest: bytes, now: int, password_hash: str, changed_at_ms: int
    ) -> User | None:
        """Use a reset token once, before it expires: the new password, and earlier JWTs refused."""
        row = (
            await self.conn.execute(
                update(users)
                .where(users.c.reset_digest == reset_digest, users.c.reset_expires_at > now)
                .values(
                    password_hash=password_hash,
                    reset_digest=None,
                    reset_expires_at=None,
                    credentials_changed_at=changed_at_ms,
                )
                .returning(*users.c)
            )
        ).first()
        return user_row(row) if row else None

    async def list_users(
        self,
        tenant_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        page: int,
        page_size: int,
        text: str | None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[User]:
        where = and_(users.c.tenant_id == str(tenant_id), users.c.customer_id == str_or_none(customer_id))
        if unstorable(text):
            return Page([], 0, page_size)
        if text:
            where = and_(where, func.lower(users.c.email).contains(text.lower(), autoescape=True))
        return await self._page(users, where, page, page_size, sort, order, user_row)

    async def delete_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.conn.execute(
            delete(users).where(users.c.id == str(user_id), users.c.tenant_id == str(tenant_id))
        )
        return result.rowcount == 1

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
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(stmt)
        except IntegrityError as exc:
            raise Conflict("Device with such name already exists!") from exc
        return result.rowcount == 1

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


class SqlUnitOfWork:
    """One transaction on the writer (or reader) engine; claim windows in SQL or in Redis."""

    repo: SqlRepository
    windows: ClaimWindows

    def __init__(self, db: Database, write: bool, external_windows: ClaimWindows | None) -> None:
        self._engine = db.writer if write else db.reader
        self._turn = db.write_turn() if write and db.write_turns is not None else None
        self._external_windows = external_windows
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._turn is not None:
            await self._turn.__aenter__()
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except BaseException:
            await self._close()
            raise
        self.repo = SqlRepository(self._conn)
        self.windows = self._external_windows or SqlClaimWindows(self._conn)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._conn is not None
        try:
            if exc_type is None:
                await self._conn.commit()
            else:
                await self._conn.rollback()
        finally:
            await self._close()

    async def _close(self) -> None:
        try:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
        finally:
            if self._turn is not None:
                await self._turn.__aexit__(None, None, None)


@dataclass(eq=False)
class _Batch:
    """The write transaction of :meth:`SqlUnitOfWorkFactory.batch`, and what it commits at its end."""

    factory: SqlUnitOfWorkFactory
    conn: AsyncConnection
    task: asyncio.Task[Any] | None
    counts: dict[str, list[int]] = field(default_factory=dict)  # bulk job id -> [succeeded, failed]
    units: list[BatchUnitOfWork] = field(default_factory=list)  # the savepoints open now, innermost last


_batch: ContextVar[_Batch | None] = ContextVar("claimd_sql_batch", default=None)
_SAVEPOINT = "claimd_unit"


class BatchUnitOfWork:
    """A unit of work inside a batch: a savepoint on the batch's connection, released when the block
    ends normally (its changes then commit with the batch) and rolled back on an exception, which
    undoes this unit's changes and nothing else of the batch.

    The savepoint always has the same name (each is released before the next is taken): SQLAlchemy's
    ``begin_nested()`` numbers them, and a thousand distinct statements a minute would crowd the real
    ones out of the driver's prepared-statement cache. A read (``uow()``) takes no savepoint: it has
    nothing to undo, and the two statements would cost more than the read. Should a read fail on
    PostgreSQL (which then refuses every further statement of the transaction), the batch fails as a
    whole and its caller works its rows again without a batch.

    Bulk row outcomes (:meth:`BulkQueries.finish_row`) are counted here and added to the job's
    counters once, when the batch commits, rather than by one ``UPDATE`` per row.
    """

    repo: SqlRepository
    windows: ClaimWindows

    def __init__(self, batch: _Batch, write: bool, external_windows: ClaimWindows | None) -> None:
        self._batch = batch
        self._write = write
        self._external_windows = external_windows
        self._open = False
        self._counts: dict[str, list[int]] = {}

    async def __aenter__(self) -> Self:
        conn = self._batch.conn
        if self._write:
            await conn.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")  # a nested one hides the outer one
            self._open = True
            self._batch.units.append(self)
        self.repo = SqlRepository(conn, counts=self._counts if self._write else None)
        self.windows = self._external_windows or SqlClaimWindows(conn)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._open:
            return
        self._open = False
        units = self._batch.units
        assert units and units[-1] is self, "units of work of a batch end in the reverse order they began"
        units.pop()
        conn = self._batch.conn
        if exc_type is not None:
            await conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            await conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            return
        await conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        # the counts now belong to the enclosing savepoint (they go if it is rolled back), else the batch
        into = units[-1]._counts if units else self._batch.counts
        for op_id, (succeeded, failed) in self._counts.items():
            total = into.setdefault(op_id, [0, 0])
            total[0] += succeeded
            total[1] += failed


class SqlUnitOfWorkFactory:
    def __init__(self, db: Database, external_windows: ClaimWindows | None = None) -> None:
        self.db = db
        self.external_windows = external_windows

    @property
    def windows_need_write(self) -> bool:
        return self.external_windows is None

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork | BatchUnitOfWork:
        batch = _batch.get()
        if batch is not None and batch.factory is self and batch.task is asyncio.current_task():
            return BatchUnitOfWork(batch, write, self.external_windows)
        return SqlUnitOfWork(self.db, write, self.external_windows)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One write transaction for many units of work (a bulk job's rows): inside the block, the
        units of work this task opens are savepoints of it (:class:`BatchUnitOfWork`). It commits
        when the block ends normally and rolls back, whole, on an exception.

        It holds the writer for its whole length (on SQLite the one write connection and the database's
        write lock), so callers keep batches short."""
        if _batch.get() is not None:
            raise RuntimeError("batches do not nest")
        async with self.db.write_turn(), self.db.writer.connect() as conn, conn.begin():
            state = _Batch(self, conn, asyncio.current_task())
            token = _batch.set(state)
            try:
                yield
            finally:
                _batch.reset(token)
            repo = SqlRepository(conn)
            for op_id, (succeeded, failed) in state.counts.items():
                await repo.count_rows(op_id, succeeded, failed)
