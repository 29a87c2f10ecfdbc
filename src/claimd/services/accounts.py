"""Who you are: login and sessions (JWTs, the per-process check that a user still exists), passwords
(change, activation and reset links, the operator's reset), and the first users on first start.

Tenants, customers and users as an administrator manages them are in services/directory.py."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, replace

from claimd.domain.access import UserAccess
from claimd.domain.errors import AuthenticationFailed, Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import NULL_UUID, Authority, Principal, Tenant, User
from claimd.domain.roles import BUILT_IN_ROLES, DEFAULT_ROLE, Role
from claimd.services.administration import check_email, managed_user
from claimd.services.guesses import Guesses, LockedOut
from claimd.services.ports import Clock, PasswordHasher, SecretHasher, TokenCodec
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWorkFactory

ACTIVATION = "activation"
PASSWORD_RESET = "password-reset"
RESET_TTL_MS = 24 * 3_600_000  # a password-reset link works once, for a day
MIN_PASSWORD_LENGTH = 6
ACTIVE_CACHE_S = 5.0
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


def resolve_role(access: UserAccess) -> Role:
    """A user's role: its tenant role, a built-in one, or OWNER when none is set. A role name that
    matches nothing (it cannot be deleted while given) falls to the least: VIEWER."""
    if access.custom_role is not None:
        return access.custom_role
    if access.role_name is None:
        return DEFAULT_ROLE
    return BUILT_IN_ROLES.get(access.role_name, BUILT_IN_ROLES["VIEWER"])


class LoginLockedOut(LockedOut):
    code = "LOGIN_LOCKED_OUT"


class AccountService:
    """Logins and sessions, passwords, activation and reset links, and the first users."""

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

    # activation and password-reset links ------------------------------------------------------
    def _activation_digest(self, token: str) -> bytes:
        return self.hasher.digest(ACTIVATION, "", token)

    async def new_activation_token(self, principal: Principal, user_id: uuid.UUID) -> str:
        """A fresh one-time activation token; only its digest is kept, so each call replaces the last."""
        token = secrets.token_urlsafe(24)
        async with self.uow(write=True) as tx:
            if (await managed_user(tx, principal, user_id)).enabled:
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
            if not (await managed_user(tx, principal, user_id)).enabled:
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
        email = check_email(email or "admin@claimd.local")
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
        email = check_email(email or "sysadmin@claimd.local")
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
