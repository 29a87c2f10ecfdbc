"""Who administers whom, shared by the account service (activation and reset links) and the directory
service (users an administrator reads and deletes); and the e-mail check of every new user."""

from __future__ import annotations

import re
import uuid

from claimd.domain.errors import InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import Authority, Principal, User
from claimd.services.common import check_text
from claimd.services.stores import Repository
from claimd.services.uow import UnitOfWork

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def check_email(email: str) -> str:
    """A new user's e-mail, stripped; InvalidArgument when it is not one."""
    email = (email or "").strip()
    check_text("Email", email)
    if not _EMAIL.fullmatch(email):
        raise InvalidArgument(f"Invalid email address format '{email}'!")
    return email


def require_system_admin(principal: Principal) -> None:
    if not principal.is_system_admin:
        raise PermissionDenied()


def manages(principal: Principal, user: User) -> bool:
    """Whether ``principal`` administers ``user``: a tenant admin the users of its tenant, the system
    administrator the tenant admins of every tenant (as in ThingsBoard)."""
    if principal.is_tenant_admin:
        return user.tenant_id == principal.tenant_id and user.authority is not Authority.SYS_ADMIN
    return principal.is_system_admin and user.authority is Authority.TENANT_ADMIN


async def managed_user(tx: UnitOfWork[Repository], principal: Principal, user_id: uuid.UUID) -> User:
    """A user that ``principal`` administers (for its activation and reset links, and deletion)."""
    if not (principal.is_tenant_admin or principal.is_system_admin):
        raise PermissionDenied()
    user = await tx.repo.get_user(user_id)
    if user is None or not manages(principal, user):
        raise NotFound()
    return user
