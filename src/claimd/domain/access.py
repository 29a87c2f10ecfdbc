"""Who a user is allowed to act as (its role, as the store reads it) and the API keys it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from claimd.domain.model import User
from claimd.domain.roles import Role


@dataclass(frozen=True, slots=True)
class UserAccess:
    user: User
    role_name: str | None
    custom_role: Role | None  # the tenant role named role_name, when it is one
    credentials_changed_at: int | None = None  # epoch ms of the last password change; older JWTs are refused


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    created_time: int
