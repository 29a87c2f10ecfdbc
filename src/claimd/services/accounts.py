"""Tenants, customers and users: login, activation, and the first tenant admin on first start."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from claimd.domain.errors import AuthenticationFailed, Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import NULL_UUID, TENANT_CONTACT_FIELDS, Authority, Customer, Page, Principal, Tenant, User
from claimd.domain.roles import BUILT_IN_ROLES, DEFAULT_ROLE, Role
from claimd.services.common import check_page, check_text
from claimd.services.devices import require_tenant_admin
from claimd.services.guesses import Guesses, LockedOut
from claimd.services.ports import Clock, PasswordHasher, Repository, SecretHasher, TokenCodec, UserAccess
from claimd.services.uow import UnitOfWork, UnitOfWorkFactory

ACTIVATION = "activation"
PASSWORD_RESET = "password-reset"
RESET_TTL_MS = 24 * 3_600_000  # a password-reset link works once, for a day
MIN_PASSWORD_LENGTH = 6
ACTIVE_CACHE_S = 5.0
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
# A real argon2id hash of a random password, verified when the e-mail is unknown so that a login's
# timing does not tell whether an account exists.
_DUMMY_PASSWORD = secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    email: str
    password: str | None  # set when claimd generated it: printed once, never stored in plain text


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long")


def _check_email(email: str) -> str:
    email = (email or "").strip()
    check_text("Email", email)
    if not _EMAIL.fullmatch(email):
        raise InvalidArgument(f"Invalid email address format '{email}'!")
    return email


def resolve_role(access: UserAccess) -> Role:
    """A user's role: its tenant role, a built-in one, or OWNER when none is set. A role name that
    matches nothing (it cannot be deleted while given) falls to the least: VIEWER."""
    if access.custom_role is not None:
        return access.custom_role
    if access.role_name is None:
        return DEFAULT_ROLE
    return BUILT_IN_ROLES.get(access.role_name, BUILT_IN_ROLES["VIEWER"])


def require_system_admin(principal: Principal) -> None:
    if not principal.is_system_admin:
        raise PermissionDenied()


def manages(principal: Principal, user: User) -> bool:
    """Whether ``principal`` administers ``user``: a tenant admin the users of its tenant, the system
    administrator the tenant admins of every tenant (as in ThingsBoard)."""
    if principal.is_tenant_admin:
        return user.tenant_id == principal.tenant_id and user.authority is not Authority.SYS_ADMIN
    return principal.is_system_admin and user.authority is Authority.TENANT_ADMIN


async def _managed_user(tx: UnitOfWork[Repository], principal: Principal, user_id: uuid.UUID) -> User:
    """A user that ``principal`` administers (for its activation and reset links, and deletion)."""
    if not (principal.is_tenant_admin or principal.is_system_admin):
        raise PermissionDenied()
    user = await tx.repo.get_user(user_id)
    if user is None or not manages(principal, user):
        raise NotFound()
    return user


def _tenant_contact(contact: dict[str, Any] | None) -> dict[str, str]:
    contact = {k: v for k, v in (contact or {}).items() if k in TENANT_CONTACT_FIELDS and v is not None}
    for key, value in contact.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"Tenant {key} must be text")
        check_text(f"Tenant {key}", value)
    return contact


class LoginLockedOut(LockedOut):
    code = "LOGIN_LOCKED_OUT"


class AccountService:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Repository],
        hasher: SecretHasher,
        passwords: PasswordHasher,
        tokens: TokenCodec,
        clock: Clock,
        guesses: Guesses,
    ) -> None:
        self.uow = uow
        self.guesses = guesses
        self.hasher = hasher
        self.passwords = passwords
        self.tokens = tokens
        self.clock = clock
        self._dummy_hash: str | None = None
        # user id -> (known to exist until, role, credentials changed at (epoch ms) or None)
        self._active: dict[uuid.UUID, tuple[float, Role, int | None]] = {}
        self.generation = 0  # grows whenever a user or role changes: other caches (API keys) start over

    async def ensure_active(self, principal: Principal) -> Principal:
        """A valid JWT of a deleted user, or one issued before the user's password last changed, is
        refused, and the user's current role is attached. Both are cached a few seconds per process;
        a change through this process forgets them at once."""
        now = time.monotonic()
        cached = self._active.get(principal.user_id)
        if cached is None or cached[0] <= now:
            async with self.uow() as tx:
                access = await tx.repo.get_user_access(principal.user_id)
            if access is None or access.user.tenant_id != principal.tenant_id:
                self._active.pop(principal.user_id, None)
                raise AuthenticationFailed("User not found")
            self.remember(access)
            cached = self._active[principal.user_id]
        _, role, changed_at = cached
        if changed_at is not None and principal.issued_at_ms is not None and principal.issued_at_ms < changed_at:
            raise AuthenticationFailed("Token is outdated", expired=True)  # ThingsBoard: a JWT_TOKEN_EXPIRED (11)
        return replace(principal, role=role) if principal.role is not role else principal

    def remember(self, access: UserAccess) -> Role:
        """Cache that the user exists, with its role; returns the role."""
        role = resolve_role(access)
        if len(self._active) > 100_000:
            self._active.clear()
        self._active[access.user.id] = (time.monotonic() + ACTIVE_CACHE_S, role, access.credentials_changed_at)
        return role

    def principal_of(self, access: UserAccess, api_key_id: uuid.UUID | None = None) -> Principal:
        """The principal of a stored user (for API keys and bulk jobs, which carry no JWT)."""
        user = access.user
        return Principal(
            user.id,
            user.tenant_id,
            user.customer_id,
            user.authority,
            user.email,
            role=self.remember(access),
            api_key_id=api_key_id,
        )

    def forget(self, user_id: uuid.UUID | None = None) -> None:
        self.generation += 1
        if user_id is None:
            self._active.clear()
        else:
            self._active.pop(user_id, None)

    # authentication --------------------------------------------------------------------------
    async def login(self, email: str, password: str, source: str | None = None) -> tuple[str, str]:
        """A JWT pair for a right e-mail and password. Wrong passwords count against the account and
        the source address (services/guesses.py): while either is locked out, every login is refused."""
        email = (email or "").strip()
        keys = self.guesses.login_keys(email, source)
        await self.guesses.check(keys, "logins", LoginLockedOut)
        async with self.uow() as tx:
            found = await tx.repo.get_login(email)
        password_hash = found[1] if found is not None else None
        if found is None or password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.passwords.hash(_DUMMY_PASSWORD)
            await self.passwords.verify(self._dummy_hash, password or "")
            await self.guesses.failed(keys)
            if found is not None:
                raise AuthenticationFailed("User is not active")
            raise AuthenticationFailed("Invalid username or password")
        user = found[0]
        if not await self.passwords.verify(password_hash, password or ""):
            await self.guesses.failed(keys)
            raise AuthenticationFailed("Invalid username or password")
        return self.tokens.issue(user)

    async def refresh(self, refresh_token: str) -> tuple[str, str]:
        user_id, issued_at_ms = self.tokens.refresh_claims(refresh_token)
        async with self.uow() as tx:
            access = await tx.repo.get_user_access(user_id)
        if access is None or not access.user.enabled:
            raise AuthenticationFailed("User not found")
        if access.credentials_changed_at is not None and issued_at_ms < access.credentials_changed_at:
            raise AuthenticationFailed("Token is outdated", expired=True)  # ThingsBoard: a JWT_TOKEN_EXPIRED (11)
        return self.tokens.issue(access.user)

    async def change_password(
        self, principal: Principal, current_password: str, new_password: str, source: str | None = None
    ) -> tuple[str, str]:
        """ThingsBoard's password change: a new password for the logged-in user, whose earlier JWTs are
        refused from now on; answers a fresh pair. A wrong current password counts as a failed login
        (services/guesses.py), so this cannot be used to guess passwords past the lockout."""
        if principal.api_key_id is not None:
            raise PermissionDenied()
        keys = self.guesses.login_keys(principal.email, source)
        await self.guesses.check(keys, "logins", LoginLockedOut)
        async with self.uow() as tx:
            found = await tx.repo.get_login(principal.email)
        password_hash = found[1] if found is not None else None
        if found is None or found[0].id != principal.user_id or password_hash is None:
            raise AuthenticationFailed("User not found")
        user = found[0]
        if not await self.passwords.verify(password_hash, current_password or ""):
            await self.guesses.failed(keys)
            raise InvalidArgument("Current password doesn't match!")
        _check_password(new_password or "")
        await self._set_password(user.id, new_password)
        return self.tokens.issue(user)

    async def _set_password(self, user_id: uuid.UUID, password: str) -> None:
        """Store a new password hash and end the user's earlier sessions, on this node at once."""
        password_hash = await self.passwords.hash(password)
        async with self.uow(write=True) as tx:
            if not await tx.repo.set_password(user_id, password_hash, time.time_ns() // 1_000_000):
                raise NotFound()
        self.forget(user_id)

    async def current_user(self, principal: Principal) -> User:
        async with self.uow() as tx:
            user = await tx.repo.get_user(principal.user_id)
        if user is None:
            raise AuthenticationFailed("User not found")
        return user

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
        title = (title or "").strip()
        if not title:
            raise InvalidArgument("Tenant title should be specified!")
        check_text("Tenant title", title)
        check_text("Tenant email", email)
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
        self.forget()  # its users are gone with it

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
        title = (title or "").strip()
        if not title:
            raise InvalidArgument("Customer title should be specified!")
        check_text("Customer title", title)
        check_text("Customer email", email)
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
        self.forget()  # its users are gone with it

    # users -----------------------------------------------------------------------------------
    def _activation_digest(self, token: str) -> bytes:
        return self.hasher.digest(ACTIVATION, "", token)

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
        email = _check_email(email)
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

    async def delete_user(self, principal: Principal, user_id: uuid.UUID) -> None:
        if user_id == principal.user_id:
            raise InvalidArgument("You can't delete your own account")
        async with self.uow(write=True) as tx:
            user = await _managed_user(tx, principal, user_id)
            await tx.repo.delete_user(user.tenant_id, user_id)
        self.forget(user_id)

    async def new_activation_token(self, principal: Principal, user_id: uuid.UUID) -> str:
        """A fresh one-time activation token; only its digest is kept, so each call replaces the last."""
        token = secrets.token_urlsafe(24)
        async with self.uow(write=True) as tx:
            if (await _managed_user(tx, principal, user_id)).enabled:
                raise InvalidArgument("User is already activated!")
            await tx.repo.set_activation_digest(user_id, self._activation_digest(token))
        return token

    async def activate(self, activate_token: str, password: str) -> tuple[str, str]:
        _check_password(password or "")
        password_hash = await self.passwords.hash(password)
        async with self.uow(write=True) as tx:
            user = await tx.repo.activate(self._activation_digest(activate_token or ""), password_hash)
        if user is None:
            raise NotFound("Unable to find user credentials by activateToken")
        return self.tokens.issue(user)

    async def new_reset_token(self, principal: Principal, user_id: uuid.UUID) -> str:
        """A one-time password-reset token for an active user of the tenant, valid RESET_TTL_MS; only
        its digest is kept, so each call replaces the last."""
        token = secrets.token_urlsafe(24)
        async with self.uow(write=True) as tx:
            if not (await _managed_user(tx, principal, user_id)).enabled:
                raise InvalidArgument("User is not active: use its activation link")
            await tx.repo.set_reset_digest(
                user_id, self.hasher.digest(PASSWORD_RESET, "", token), self.clock() + RESET_TTL_MS
            )
        return token

    async def reset_password(self, reset_token: str, password: str) -> tuple[str, str]:
        """ThingsBoard's ``POST /api/noauth/resetPassword``: a new password through a reset token (once,
        before it expires); the user's earlier sessions end. Answers a JWT pair."""
        _check_password(password or "")
        password_hash = await self.passwords.hash(password)
        digest = self.hasher.digest(PASSWORD_RESET, "", reset_token or "")
        async with self.uow(write=True) as tx:
            user = await tx.repo.reset_password(digest, self.clock(), password_hash, time.time_ns() // 1_000_000)
        if user is None:
            raise InvalidArgument("Invalid reset token!")
        self.forget(user.id)
        return self.tokens.issue(user)

    async def set_password_by_email(self, email: str, password: str) -> User:
        """The operator's reset (``claimd admin reset-password``): a new password for a user found by
        e-mail, activated if it was not; its earlier sessions end."""
        _check_password(password or "")
        async with self.uow() as tx:
            found = await tx.repo.get_login((email or "").strip())
        if found is None:
            raise NotFound(f"No user with e-mail {email!r}")
        await self._set_password(found[0].id, password)
        return found[0]

    # first start -----------------------------------------------------------------------------
    async def ensure_first_tenant(self, email: str | None, password: str | None) -> FirstAdmin | None:
        """On an empty database: tenant "Default" and its tenant admin. None when the database has a
        tenant or a user (a system administrator who removed every tenant gets no "Default" back)."""
        async with self.uow() as tx:
            if await tx.repo.count_tenants() or await tx.repo.count_users():
                return None
        now = self.clock()
        tenant = Tenant(uuid.uuid4(), "Default", now)
        email = _check_email(email or "admin@claimd.local")
        admin = User(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            customer_id=None,
            email=email,
            authority=Authority.TENANT_ADMIN,
            created_time=now,
        )
        return await self._first_user(admin, password, tenant)

    async def ensure_system_admin(self, email: str | None, password: str | None) -> FirstAdmin | None:
        """The system administrator (ThingsBoard's SYS_ADMIN, who creates tenants), made when the
        database has none: on first start, and on the first start after an upgrade from a version
        without one. None when one exists."""
        async with self.uow() as tx:
            if await tx.repo.count_users(Authority.SYS_ADMIN):
                return None
        email = _check_email(email or "sysadmin@claimd.local")
        admin = User(
            id=uuid.uuid4(),
            tenant_id=NULL_UUID,
            customer_id=None,
            email=email,
            authority=Authority.SYS_ADMIN,
            created_time=self.clock(),
        )
        return await self._first_user(admin, password)

    async def _first_user(self, user: User, password: str | None, tenant: Tenant | None = None) -> FirstAdmin | None:
        """Store ``user`` (and its new ``tenant``) with ``password``, or a generated one that the caller
        prints once. None when another node made the same first user at the same moment."""
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        _check_password(password)
        password_hash = await self.passwords.hash(password)
        try:
            async with self.uow(write=True) as tx:
                if tenant is not None:
                    await tx.repo.add_tenant(tenant)
                await tx.repo.add_user(user, None, password_hash)
        except Conflict:
            async with self.uow() as tx:
                found = await tx.repo.get_login(user.email)
            if found is not None and found[0].authority is user.authority:
                return None  # another node made it at the same moment
            raise Conflict(
                f"A user with e-mail {user.email} already exists: choose another e-mail for the "
                f"{user.authority.value} user"
            ) from None
        return FirstAdmin(user.email, password if generated else None)
