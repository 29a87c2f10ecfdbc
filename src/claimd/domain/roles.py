"""Permissions (resource × operation) and roles (sets of them), as in ThingsBoard PE and nRF Cloud.

Tenant admins may do everything within their tenant. A customer user acts through one role: a
built-in one (OWNER, ADMIN, EDITOR, VIEWER, as nRF Cloud's team roles) or one its tenant defined.
A user without a role is an OWNER, so ThingsBoard's plain CUSTOMER_USER keeps every right it had.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from claimd.domain.errors import InvalidArgument


class Resource(enum.StrEnum):
    DEVICE = "DEVICE"
    TAG = "TAG"
    COMMAND = "COMMAND"
    BULK = "BULK"
    USER = "USER"


class Operation(enum.StrEnum):
    READ = "READ"
    CLAIM = "CLAIM"
    UNCLAIM = "UNCLAIM"
    BLOCK = "BLOCK"
    TAG = "TAG"
    READ_RESTRICTED = "READ_RESTRICTED"  # see devices claimed by users who hold this permission
    WRITE = "WRITE"


@dataclass(frozen=True, slots=True, order=True)
class Permission:
    resource: Resource
    operation: Operation

    def __str__(self) -> str:
        return f"{self.resource.value}:{self.operation.value}"


def _p(resource: Resource, *operations: Operation) -> frozenset[Permission]:
    return frozenset(Permission(resource, op) for op in operations)


R, Op = Resource, Operation
DEVICE_READ = Permission(R.DEVICE, Op.READ)
DEVICE_CLAIM = Permission(R.DEVICE, Op.CLAIM)
DEVICE_UNCLAIM = Permission(R.DEVICE, Op.UNCLAIM)
DEVICE_BLOCK = Permission(R.DEVICE, Op.BLOCK)
DEVICE_TAG = Permission(R.DEVICE, Op.TAG)
DEVICE_READ_RESTRICTED = Permission(R.DEVICE, Op.READ_RESTRICTED)
DEVICE_WRITE = Permission(R.DEVICE, Op.WRITE)  # its attributes
TAG_READ = Permission(R.TAG, Op.READ)
TAG_WRITE = Permission(R.TAG, Op.WRITE)
COMMAND_READ = Permission(R.COMMAND, Op.READ)
COMMAND_WRITE = Permission(R.COMMAND, Op.WRITE)
BULK_READ = Permission(R.BULK, Op.READ)
BULK_WRITE = Permission(R.BULK, Op.WRITE)
USER_WRITE = Permission(R.USER, Op.WRITE)

#: Every permission that exists, by its "RESOURCE:OPERATION" name.
PERMISSIONS: dict[str, Permission] = {
    str(p): p
    for p in (
        _p(R.DEVICE, Op.READ, Op.CLAIM, Op.UNCLAIM, Op.BLOCK, Op.TAG, Op.READ_RESTRICTED, Op.WRITE)
        | _p(R.TAG, Op.READ, Op.WRITE)
        | _p(R.COMMAND, Op.READ, Op.WRITE)
        | _p(R.BULK, Op.READ, Op.WRITE)
        | _p(R.USER, Op.WRITE)
    )
}

_VIEWER = frozenset({DEVICE_READ, TAG_READ, COMMAND_READ, BULK_READ})
_EDITOR = _VIEWER | {
    DEVICE_CLAIM,
    DEVICE_UNCLAIM,
    DEVICE_BLOCK,
    DEVICE_TAG,
    DEVICE_WRITE,
    TAG_WRITE,
    COMMAND_WRITE,
    BULK_WRITE,
}
_ADMIN = _EDITOR | {DEVICE_READ_RESTRICTED}
_OWNER = _ADMIN | {USER_WRITE}


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    permissions: frozenset[Permission]
    description: str | None = None
    built_in: bool = False

    def allows(self, permission: Permission) -> bool:
        return permission in self.permissions


BUILT_IN_ROLES: dict[str, Role] = {
    "OWNER": Role("OWNER", _OWNER, "Everything, including giving roles to the customer's users", True),
    "ADMIN": Role("ADMIN", _ADMIN, "Claims, tags, blocks and commands; sees every device of the customer", True),
    "EDITOR": Role(
        "EDITOR", _EDITOR, "Claims, tags, blocks and commands; does not see devices claimed by an Admin or Owner", True
    ),
    "VIEWER": Role("VIEWER", _VIEWER, "Reads only", True),
}
DEFAULT_ROLE = BUILT_IN_ROLES["OWNER"]
#: All permissions: what a tenant admin holds within its tenant.
ALL_PERMISSIONS = frozenset(PERMISSIONS.values())

_ROLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def parse_permissions(values: object) -> frozenset[Permission]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidArgument("permissions must be a list of 'RESOURCE:OPERATION' strings")
    unknown = sorted({v for v in values if v.upper() not in PERMISSIONS})
    if unknown:
        raise InvalidArgument(f"Unknown permission(s): {', '.join(unknown)}; known: {', '.join(sorted(PERMISSIONS))}")
    return frozenset(PERMISSIONS[v.upper()] for v in values)


def check_role_name(name: object) -> str:
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        raise InvalidArgument("A role name is 1-64 letters, digits, '_' or '-', starting with a letter")
    if name.upper() in BUILT_IN_ROLES:
        raise InvalidArgument(f"'{name}' is a built-in role")
    return name
