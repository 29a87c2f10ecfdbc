"""Tenants, customers and users as an administrator manages them: the system administrator's tenants
and their tenant admins, a tenant admin's customers and users (as in ThingsBoard).

Logins, sessions, passwords and activation links are in services/accounts.py."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from claimd.domain.claim_page import DEFAULT as DEFAULT_CLAIM_PAGE
from claimd.domain.claim_page import ClaimPageSettings, settings_from, stored_settings
from claimd.domain.errors import InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import NULL_UUID, TENANT_CONTACT_FIELDS, Authority, Customer, Page, Principal, Tenant, User
from claimd.services.accounts import AccountService
from claimd.services.administration import check_email, managed_user, manages, require_system_admin
from claimd.services.common import check_page, check_text
from claimd.services.devices import require_tenant_admin
from claimd.services.ports import Clock
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWorkFactory

CLAIM_PAGE = "claimPage"  # the key of a tenant's additionalInfo that holds its claim page's settings


def _title(kind: str, title: str, email: str | None) -> str:
    """A tenant's or customer's title (required, stripped) after checking it and the e-mail."""
    title = (title or "").strip()
    if not title:
        raise InvalidArgument(f"{kind} title should be specified!")
    check_text(f"{kind} title", title)
    check_text(f"{kind} email", email)
    return title


def _tenant_contact(contact: dict[str, Any] | None) -> dict[str, str]:
    contact = {k: v for k, v in (contact or {}).items() if k in TENANT_CONTACT_FIELDS and v is not None}
    for key, value in contact.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"Tenant {key} must be text")
        check_text(f"Tenant {key}", value)
    return contact


class DirectoryService:
    """Reads and writes tenants, customers and users for their administrators. Deleting one ends its
    users' sessions on this node at once (through the account service's cache)."""

    def __init__(self, uow: UnitOfWorkFactory[Repository], accounts: AccountService, clock: Clock) -> None:
        self.uow = uow
        self.accounts = accounts
        self.clock = clock

    # tenants (the system administrator's) --------------------------------------------------
    async def save_tenant(
        self,
        principal: Principal,
        title: str,
        email: str | None = None,
        contact: dict[str, Any] | None = None,
        additional_info: dict[str, Any] | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> Tenant:
        require_system_admin(principal)
        title = _title("Tenant", title, email)
        tenant = Tenant(
            id=tenant_id or uuid.uuid4(),
            title=title,
            created_time=self.clock(),
            email=email,
            contact=_tenant_contact(contact),
            additional_info=dict(additional_info or {}),
        )
        async with self.uow(write=True) as tx:
            if tenant_id is None:
                await tx.repo.add_tenant(tenant)
                return tenant
            current = await tx.repo.get_tenant(tenant_id)
            if current is None:
                raise NotFound("Tenant wasn't found!")
            tenant = replace(tenant, created_time=current.created_time)
            await tx.repo.update_tenant(tenant)
        return tenant

    async def get_tenant(self, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
        """The system administrator reads every tenant; a tenant admin its own."""
        if not (principal.is_system_admin or (principal.is_tenant_admin and principal.tenant_id == tenant_id)):
            raise PermissionDenied()
        async with self.uow() as tx:
            tenant = await tx.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("Tenant wasn't found!")
        return tenant

    async def list_tenants(
        self,
        principal: Principal,
        page: int,
        page_size: int,
        text: str | None = None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[Tenant]:
        require_system_admin(principal)
        check_page(page, page_size)
        async with self.uow() as tx:
            return await tx.repo.list_tenants(page, page_size, text, sort, order)

    async def delete_tenant(self, principal: Principal, tenant_id: uuid.UUID) -> None:
        """The tenant and everything in it: customers, users, devices, their claims and audit log."""
        require_system_admin(principal)
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_tenant(tenant_id):
                raise NotFound("Tenant wasn't found!")
        self.accounts.forget()  # its users are gone with it

    async def list_tenant_admins(
        self, principal: Principal, tenant_id: uuid.UUID, page: int, page_size: int, text: str | None = None
    ) -> Page[User]:
        require_system_admin(principal)
        check_page(page, page_size)
        async with self.uow() as tx:
            if await tx.repo.get_tenant(tenant_id) is None:
                raise NotFound("Tenant wasn't found!")
            return await tx.repo.list_users(tenant_id, None, page, page_size, text)

    # customers -------------------------------------------------------------------------------
    async def save_customer(
        self,
        principal: Principal,
        title: str,
        email: str | None = None,
        additional_info: dict[str, Any] | None = None,
        customer_id: uuid.UUID | None = None,
    ) -> Customer:
        require_tenant_admin(principal)
        title = _title("Customer", title, email)
        async with self.uow(write=True) as tx:
            if customer_id is not None:
                current = await tx.repo.get_customer(principal.tenant_id, customer_id)
                if current is None:
                    raise NotFound()
                customer = replace(current, title=title, email=email, additional_info=dict(additional_info or {}))
                await tx.repo.update_customer(customer)
                return customer
            customer = Customer(
                id=uuid.uuid4(),
                tenant_id=principal.tenant_id,
                title=title,
                email=email,
                additional_info=dict(additional_info or {}),
                created_time=self.clock(),
            )
            await tx.repo.add_customer(customer)
        return customer

    async def get_customer(self, principal: Principal, customer_id: uuid.UUID) -> Customer:
        if principal.is_customer_user and principal.customer_id != customer_id:
            raise PermissionDenied()
        async with self.uow() as tx:
            customer = await tx.repo.get_customer(principal.tenant_id, customer_id)
        if customer is None:
            raise NotFound()
        return customer

    async def list_customers(
        self,
        principal: Principal,
        page: int,
        page_size: int,
        text: str | None = None,
        sort: str | None = None,
        order: str | None = None,
    ) -> Page[Customer]:
        require_tenant_admin(principal)
        check_page(page, page_size)
        async with self.uow() as tx:
            return await tx.repo.list_customers(principal.tenant_id, page, page_size, text, sort, order)

    async def delete_customer(self, principal: Principal, customer_id: uuid.UUID) -> None:
        require_tenant_admin(principal)
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_customer(principal.tenant_id, customer_id):
                raise NotFound()
            # its devices become unassigned (ON DELETE SET NULL): close what it had queued for them
            await tx.repo.cancel_open_commands(self.clock(), customer_id=customer_id)
        self.accounts.forget()  # its users are gone with it

    # users -----------------------------------------------------------------------------------
    async def create_user(
        self,
        principal: Principal,
        email: str,
        authority: Authority,
        customer_id: uuid.UUID | None,
        first_name: str | None = None,
        last_name: str | None = None,
        additional_info: dict[str, Any] | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> User:
        """A tenant admin makes customer users and tenant admins of its tenant; the system administrator
        makes the tenant admins of any tenant (``tenant_id``), as in ThingsBoard."""
        if principal.is_system_admin:
            if authority is not Authority.TENANT_ADMIN:
                raise PermissionDenied("The system administrator creates tenant admins (authority TENANT_ADMIN)")
            if tenant_id is None or tenant_id == NULL_UUID:
                raise InvalidArgument("Tenant admin should be assigned to a tenant: give its tenantId")
        else:
            require_tenant_admin(principal)
            if tenant_id is not None and tenant_id != principal.tenant_id:
                raise PermissionDenied()
            tenant_id = principal.tenant_id
        email = check_email(email)
        check_text("First name", first_name)
        check_text("Last name", last_name)
        if authority is Authority.CUSTOMER_USER:
            if customer_id is None:
                raise InvalidArgument("Customer user should be assigned to a customer!")
        elif authority is Authority.TENANT_ADMIN:
            customer_id = None
        else:
            raise PermissionDenied()
        user = User(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            customer_id=customer_id,
            email=email,
            authority=authority,
            first_name=first_name,
            last_name=last_name,
            additional_info=dict(additional_info or {}),
            created_time=self.clock(),
        )
        async with self.uow(write=True) as tx:
            if principal.is_system_admin and await tx.repo.get_tenant(tenant_id) is None:
                raise NotFound("Tenant wasn't found!")
            if customer_id is not None and await tx.repo.get_customer(tenant_id, customer_id) is None:
                raise NotFound("Customer wasn't found!")
            await tx.repo.add_user(user, None)
        return user

    async def get_user(self, principal: Principal, user_id: uuid.UUID) -> User:
        async with self.uow() as tx:
            user = await tx.repo.get_user(user_id)
        if user is None:
            raise NotFound()
        if user.id == principal.user_id:
            return user
        if principal.is_customer_user and user.tenant_id == principal.tenant_id:
            raise PermissionDenied()
        if not manages(principal, user):
            raise NotFound()
        return user

    async def list_customer_users(
        self, principal: Principal, customer_id: uuid.UUID, page: int, page_size: int, text: str | None = None
    ) -> Page[User]:
        require_tenant_admin(principal)
        check_page(page, page_size)
        async with self.uow() as tx:
            if await tx.repo.get_customer(principal.tenant_id, customer_id) is None:
                raise NotFound()
            return await tx.repo.list_users(principal.tenant_id, customer_id, page, page_size, text)

    async def customers_with_users(
        self, principal: Principal, customers: int, users_each: int
    ) -> tuple[list[tuple[Customer, list[User], int]], int]:
        """The tenant's newest ``customers`` customers, each with its first ``users_each`` users and how
        many it has, and how many customers there are: two queries and a count, whatever the numbers."""
        require_tenant_admin(principal)
        check_page(0, customers)
        async with self.uow() as tx:
            page = await tx.repo.list_customers(principal.tenant_id, 0, customers, None, "createdTime", "DESC")
            found = await tx.repo.users_of_customers(principal.tenant_id, [c.id for c in page.data])
        by_customer: dict[uuid.UUID, list[User]] = {}
        for user in found:
            assert user.customer_id is not None
            by_customer.setdefault(user.customer_id, []).append(user)
        listed = [(c, by_customer.get(c.id, [])[:users_each], len(by_customer.get(c.id, []))) for c in page.data]
        return listed, page.total_elements

    async def delete_user(self, principal: Principal, user_id: uuid.UUID) -> None:
        if user_id == principal.user_id:
            raise InvalidArgument("You can't delete your own account")
        async with self.uow(write=True) as tx:
            user = await managed_user(tx, principal, user_id)
            await tx.repo.delete_user(user.tenant_id, user_id)
        self.accounts.forget(user_id)

    # the claim page's settings (domain/claim_page.py), kept in the tenant's additionalInfo -------------
    async def claim_page(self, principal: Principal) -> ClaimPageSettings:
        """The claim page of the caller's tenant, as its users see it."""
        async with self.uow() as tx:
            tenant = await tx.repo.get_tenant(principal.tenant_id)
        return stored_settings(tenant.additional_info.get(CLAIM_PAGE)) if tenant else DEFAULT_CLAIM_PAGE

    async def save_claim_page(self, principal: Principal, values: dict[str, Any]) -> ClaimPageSettings:
        """A tenant admin sets its tenant's claim page (a field left out goes back to its default)."""
        require_tenant_admin(principal)
        settings = settings_from(values)
        async with self.uow(write=True) as tx:
            tenant = await tx.repo.get_tenant(principal.tenant_id)
            if tenant is None:
                raise NotFound("Tenant wasn't found!")
            info = {**tenant.additional_info, CLAIM_PAGE: settings.as_json()}
            await tx.repo.update_tenant(replace(tenant, additional_info=info))
        return settings
