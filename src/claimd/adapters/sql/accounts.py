"""SQL of tenants, customers and users. A mixin of :class:`claimd.adapters.sql.repository.SqlRepository`."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, true, update

from claimd.adapters.sql.base import QueryBase
from claimd.adapters.sql.rows import customer_row, str_or_none, tenant_row, unstorable, user_row, user_tenant
from claimd.adapters.sql.tables import (
    api_keys,
    audit_log,
    claim_challenges,
    customers,
    device_identities,
    lorawan_applications,
    lorawan_identities,
    provisioning_commands,
    tenants,
    users,
)
from claimd.domain.model import Authority, Customer, Page, Tenant, User

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


class AccountQueries(QueryBase):
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
        await self._write(
            insert(tenants).values(id=str(tenant.id), created_time=tenant.created_time, **self._tenant_values(tenant)),
            f"Tenant '{tenant.title}' already exists!",
        )

    async def update_tenant(self, tenant: Tenant) -> bool:
        stmt = update(tenants).where(tenants.c.id == str(tenant.id)).values(**self._tenant_values(tenant))
        return await self._write(stmt, f"Tenant '{tenant.title}' already exists!") == 1

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
        await self._write(
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
        return await self._write(stmt, "Customer with such title already exists!") == 1

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
        await self._write(
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

    async def users_of_customers(self, tenant_id: uuid.UUID, customer_ids: list[uuid.UUID]) -> list[User]:
        """The users of these customers of the tenant, in one query, each customer's oldest first."""
        if not customer_ids:
            return []
        rows = await self.conn.execute(
            select(users)
            .where(users.c.tenant_id == str(tenant_id), users.c.customer_id.in_([str(c) for c in customer_ids]))
            .order_by(users.c.customer_id, users.c.created_time, users.c.id)
        )
        return [user_row(r) for r in rows]

    async def delete_user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.conn.execute(
            delete(users).where(users.c.id == str(user_id), users.c.tenant_id == str(tenant_id))
        )
        return result.rowcount == 1

    async def user_role_names(self, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """The stored role name of each of these users of the tenant (``None``: no role set, an OWNER), in
        one query; users of other tenants and unknown ids are left out."""
        if not user_ids:
            return {}
        rows = await self.conn.execute(
            select(users.c.id, users.c.role).where(
                users.c.tenant_id == str(tenant_id), users.c.id.in_([str(u) for u in user_ids])
            )
        )
        return {uuid.UUID(r.id): r.role for r in rows}
