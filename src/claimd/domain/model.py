"""Entities of claimd: tenants, customers, users, devices, and who is acting."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from claimd.domain.roles import DEFAULT_ROLE, Permission, Role

T = TypeVar("T")

#: ThingsBoard's "no customer" id: an unassigned device has this as its customerId on the wire.
NULL_UUID = uuid.UUID("13814000-1dd2-11b2-8080-808080808080")


class Authority(enum.StrEnum):
    SYS_ADMIN = "SYS_ADMIN"
    TENANT_ADMIN = "TENANT_ADMIN"
    CUSTOMER_USER = "CUSTOMER_USER"


class AttributeScope(enum.StrEnum):
    SERVER_SCOPE = "SERVER_SCOPE"
    SHARED_SCOPE = "SHARED_SCOPE"
    CLIENT_SCOPE = "CLIENT_SCOPE"


class Door(enum.StrEnum):
    """Which way a request came in; recorded with every audit event."""

    REST = "REST"
    HTTP_DEVICE = "HTTP_DEVICE"
    MQTT = "MQTT"
    MQTT_GATEWAY = "MQTT_GATEWAY"
    COAP = "COAP"
    CLI = "CLI"
    WEB = "WEB"
    BULK = "BULK"


#: A tenant's contact details, as ThingsBoard's Tenant carries them (all optional text).
TENANT_CONTACT_FIELDS = ("country", "state", "city", "address", "address2", "zip", "phone")


@dataclass(frozen=True, slots=True)
class Tenant:
    id: uuid.UUID
    title: str
    created_time: int
    email: str | None = None
    contact: dict[str, str] = field(default_factory=dict)  # TENANT_CONTACT_FIELDS that are set
    additional_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Customer:
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    created_time: int
    email: str | None = None
    additional_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    tenant_id: uuid.UUID  # NULL_UUID for a system administrator, who belongs to no tenant
    customer_id: uuid.UUID | None
    email: str
    authority: Authority
    created_time: int
    first_name: str | None = None
    last_name: str | None = None
    enabled: bool = False
    additional_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Device:
    id: uuid.UUID
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    name: str
    type: str
    created_time: int
    label: str | None = None
    additional_info: dict[str, Any] = field(default_factory=dict)
    claimed_at: int | None = None  # set when a customer claimed it (not when a tenant assigned it)
    claimed_by: uuid.UUID | None = None
    claim_restricted: bool = False  # claimed by a user who sees restricted devices (an Admin or Owner)
    blocked_at: int | None = None
    blocked_by: str | None = None  # "OWNER" or "TENANT"

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None

    @property
    def is_assigned(self) -> bool:
        return self.customer_id is not None

    @property
    def is_gateway(self) -> bool:
        return self.additional_info.get("gateway") is True


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a logged-in user, as read from a verified credential."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    customer_id: uuid.UUID | None
    authority: Authority
    email: str
    role: Role = DEFAULT_ROLE  # a customer user's role; tenant admins may do everything in their tenant
    api_key_id: uuid.UUID | None = None  # set when the caller came in with an API key
    issued_at_ms: int | None = None  # when its JWT was issued (epoch ms); None for API keys and jobs

    @property
    def is_system_admin(self) -> bool:
        return self.authority is Authority.SYS_ADMIN

    def can(self, permission: Permission) -> bool:
        if self.authority is Authority.TENANT_ADMIN:
            return True
        return self.authority is Authority.CUSTOMER_USER and self.role.allows(permission)

    @property
    def is_tenant_admin(self) -> bool:
        return self.authority is Authority.TENANT_ADMIN

    @property
    def is_customer_user(self) -> bool:
        return self.authority is Authority.CUSTOMER_USER


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, in ThingsBoard's PageData shape."""

    data: list[T]
    total_elements: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_elements // self.page_size) if self.page_size else 0

    def has_next(self, page: int) -> bool:
        return (page + 1) * self.page_size < self.total_elements


class AuditAction(enum.StrEnum):
    CLAIM = "CLAIM"
    RECLAIM = "RECLAIM"
    ASSIGN = "ASSIGN"
    UNASSIGN = "UNASSIGN"
    CLAIM_WINDOW = "CLAIM_WINDOW"
    BLOCK = "BLOCK"
    UNBLOCK = "UNBLOCK"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit log: who did what to which device, how it ended, which way in, when."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    created_time: int
    action: AuditAction
    outcome: str
    door: Door
    user_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    device_name: str | None = None
    source: str | None = None
    detail: str | None = None
    repeats: int = 1  # failed guesses of one kind are kept as one line with their count...
    last_time: int | None = None  # ...and the time of the last
