"""Roles (tenant-defined sets of permissions, given to customer users) and API keys.

An API key belongs to one user and acts with that user's current role. It is shown once, stored as a
keyed digest (the digest is the look-up key), listed by name and prefix, and revoked by id.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

from claimd.domain.access import ApiKeyRecord
from claimd.domain.errors import AuthenticationFailed, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import Authority, Principal
from claimd.domain.roles import (
    BUILT_IN_ROLES,
    DEFAULT_ROLE,
    USER_WRITE,
    Role,
    check_role_name,
    parse_permissions,
)
from claimd.services.accounts import AccountService, resolve_role
from claimd.services.common import check_text
from claimd.services.devices import require_tenant_admin
from claimd.services.guesses import Guesses
from claimd.services.ports import Clock, SecretHasher
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWorkFactory

API_KEY = "api-key"
API_KEY_PREFIX = "claimd_"
API_KEY_CACHE_S = 5.0
MAX_KEYS_PER_USER = 50


@dataclass(frozen=True, slots=True)
class NewApiKey:
    record: ApiKeyRecord
    key: str  # shown once


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


class AccessService:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Repository],
        hasher: SecretHasher,
        accounts: AccountService,
        clock: Clock,
        guesses: Guesses,
    ) -> None:
        self.uow = uow
        self.guesses = guesses
        self.hasher = hasher
        self.accounts = accounts
        self.clock = clock
        self._keys: dict[bytes, tuple[float, Principal]] = {}
        self._generation = accounts.generation

    # roles -----------------------------------------------------------------------------------
    async def list_roles(self, principal: Principal) -> list[Role]:
        """Built-in roles first, then the tenant's own."""
        async with self.uow() as tx:
            custom = await tx.repo.list_roles(principal.tenant_id)
        return [*BUILT_IN_ROLES.values(), *custom]

    async def get_role(self, principal: Principal, name: str) -> Role:
        if name.upper() in BUILT_IN_ROLES:
            return BUILT_IN_ROLES[name.upper()]
        async with self.uow() as tx:
            role = await tx.repo.get_role(principal.tenant_id, name)
        if role is None:
            raise NotFound(f"No role '{name}'")
        return role

    async def save_role(
        self, principal: Principal, name: str, permissions: object, description: str | None, *, create: bool
    ) -> Role:
        require_tenant_admin(principal)
        role = Role(check_role_name(name), parse_permissions(permissions), check_text("description", description))
        async with self.uow(write=True) as tx:
            if create:
                await tx.repo.add_role(principal.tenant_id, role, self.clock())
            elif not await tx.repo.update_role(principal.tenant_id, role):
                raise NotFound(f"No role '{name}'")
        self.accounts.forget()  # users holding the role (and their keys) get its new permissions now
        return role

    async def delete_role(self, principal: Principal, name: str) -> None:
        require_tenant_admin(principal)
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_role(principal.tenant_id, name):
                raise NotFound(f"No role '{name}'")

    async def set_user_role(self, principal: Principal, user_id: uuid.UUID, name: str) -> Role:
        """Give a customer user a role. Tenant admins may give any; a customer's user with User × Write
        (an Owner) may give its own customer's users any role but a stronger one than its own."""
        if not principal.is_tenant_admin and not principal.can(USER_WRITE):
            raise PermissionDenied()
        role = await self.get_role(principal, name)
        async with self.uow(write=True) as tx:
            access = await tx.repo.get_user_access(user_id)
            user = access.user if access else None
            if (
                user is None
                or user.tenant_id != principal.tenant_id
                or (principal.is_customer_user and user.customer_id != principal.customer_id)
            ):
                raise NotFound("No such user")
            if user.authority is not Authority.CUSTOMER_USER:
                raise InvalidArgument("Roles are for customer users; tenant admins may do everything in their tenant")
            if principal.is_customer_user and not (
                role.permissions <= principal.role.permissions
                and resolve_role(access).permissions <= principal.role.permissions  # type: ignore[arg-type]
            ):
                raise PermissionDenied(
                    "You cannot give a role with rights you do not have, "
                    "nor change the role of a user who has rights you do not have"
                )
            await tx.repo.set_user_role(user_id, role.name)
        self.accounts.forget(user_id)
        return role

    async def user_roles(self, principal: Principal, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The role name each of these users of the tenant acts through (OWNER when none is set), read in one
        query: for a tenant admin's list of users (the console's customers page)."""
        require_tenant_admin(principal)
        async with self.uow() as tx:
            names = await tx.repo.user_role_names(principal.tenant_id, user_ids)
        return {user_id: name or DEFAULT_ROLE.name for user_id, name in names.items()}

    # API keys --------------------------------------------------------------------------------
    def _digest(self, key: str) -> bytes:
        return self.hasher.digest(API_KEY, "", key)

    async def create_key(self, principal: Principal, name: str) -> NewApiKey:
        name = (name or "").strip()
        if not name:
            raise InvalidArgument("An API key needs a name")
        check_text("name", name)
        key = API_KEY_PREFIX + secrets.token_urlsafe(30)
        record = ApiKeyRecord(
            uuid.uuid4(), principal.tenant_id, principal.user_id, name, key[: len(API_KEY_PREFIX) + 6], self.clock()
        )
        async with self.uow(write=True) as tx:
            if len(await tx.repo.list_api_keys(principal.tenant_id, principal.user_id)) >= MAX_KEYS_PER_USER:
                raise InvalidArgument(f"A user has at most {MAX_KEYS_PER_USER} API keys; revoke one first")
            await tx.repo.add_api_key(record, self._digest(key))
        return NewApiKey(record, key)

    async def list_keys(
        self, principal: Principal, user_id: uuid.UUID | None = None, all_users: bool = False
    ) -> list[ApiKeyRecord]:
        """Your own keys; a tenant admin may list one user's (``user_id``) or every key of its tenant."""
        if (all_users or (user_id is not None and user_id != principal.user_id)) and not principal.is_tenant_admin:
            raise PermissionDenied("Only tenant admins see other users' API keys")
        owner = None if all_users else (user_id or principal.user_id)
        async with self.uow() as tx:
            return await tx.repo.list_api_keys(principal.tenant_id, owner)

    async def revoke_key(self, principal: Principal, key_id: uuid.UUID) -> None:
        """Revoke one of your keys; a tenant admin may revoke any key of its tenant."""
        owner = None if principal.is_tenant_admin else principal.user_id
        async with self.uow(write=True) as tx:
            if not await tx.repo.delete_api_key(principal.tenant_id, key_id, owner):
                raise NotFound("No such API key")
        self._keys.clear()  # a revoked key stops working at once on this node, within seconds on others

    async def principal_for_key(self, key: str, source: str | None = None) -> Principal:
        """The principal of an API key. A key not in this node's cache is a guess until found: wrong
        keys count against the source address, and while it is locked out no key is looked up."""
        digest = self._digest(key)
        now = time.monotonic()
        if self._generation != self.accounts.generation:  # a user or a role changed on this node
            self._keys.clear()
            self._generation = self.accounts.generation
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        keys = self.guesses.api_key_keys(source)
        await self.guesses.check(keys, "API keys")
        async with self.uow() as tx:
            found = await tx.repo.get_api_key_access(digest)
        if found is None:
            self._keys.pop(digest, None)
            await self.guesses.failed(keys)
            raise AuthenticationFailed("Invalid API key")
        key_id, access = found
        principal = self.accounts.principal_of(access, api_key_id=key_id)
        if len(self._keys) > 100_000:
            self._keys.clear()
        self._keys[digest] = (now + API_KEY_CACHE_S, principal)
        return principal
