"""ThingsBoard's JSON shapes: entity ids, Device, Customer, User, PageData, and request bodies."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from claimd.domain.model import NULL_UUID, TENANT_CONTACT_FIELDS, Authority, Customer, Device, Page, Tenant, User


def entity_id(entity_type: str, value: uuid.UUID | None) -> dict[str, str]:
    return {"entityType": entity_type, "id": str(value or NULL_UUID)}


def default_profile_id(tenant_id: uuid.UUID) -> uuid.UUID:
    """claimd has no device profiles; each tenant's "default" one gets a stable id for clients that read it."""
    return uuid.uuid5(tenant_id, "device-profile/default")


def device_json(d: Device) -> dict[str, Any]:
    return {
        "id": entity_id("DEVICE", d.id),
        "createdTime": d.created_time,
        "tenantId": entity_id("TENANT", d.tenant_id),
        "customerId": entity_id("CUSTOMER", d.customer_id),
        "ownerId": entity_id("CUSTOMER", d.customer_id) if d.customer_id else entity_id("TENANT", d.tenant_id),
        "name": d.name,
        "type": d.type,
        "label": d.label,
        "deviceProfileId": entity_id("DEVICE_PROFILE", default_profile_id(d.tenant_id)),
        "deviceData": {"configuration": {"type": "DEFAULT"}, "transportConfiguration": {"type": "DEFAULT"}},
        "firmwareId": None,
        "softwareId": None,
        "externalId": None,
        "version": 1,
        "additionalInfo": d.additional_info,
    }


def tenant_json(t: Tenant) -> dict[str, Any]:
    return {
        "id": entity_id("TENANT", t.id),
        "createdTime": t.created_time,
        "title": t.title,
        "name": t.title,
        "region": "Global",
        "tenantProfileId": None,  # claimd has no tenant profiles
        **{key: t.contact.get(key) for key in TENANT_CONTACT_FIELDS},
        "email": t.email,
        "additionalInfo": t.additional_info,
        "version": 1,
    }


def customer_json(c: Customer) -> dict[str, Any]:
    return {
        "id": entity_id("CUSTOMER", c.id),
        "createdTime": c.created_time,
        "tenantId": entity_id("TENANT", c.tenant_id),
        "title": c.title,
        "name": c.title,
        "email": c.email,
        "additionalInfo": c.additional_info,
        "version": 1,
    }


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": entity_id("USER", u.id),
        "createdTime": u.created_time,
        "tenantId": entity_id("TENANT", u.tenant_id),
        "customerId": entity_id("CUSTOMER", u.customer_id),
        "email": u.email,
        "name": u.email,
        "authority": u.authority.value,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "phone": None,
        "additionalInfo": {**u.additional_info, "userCredentialsEnabled": u.enabled},
        "version": 1,
    }


def page_json(page: Page[Any], page_index: int, render: Any) -> dict[str, Any]:
    return {
        "data": [render(item) for item in page.data],
        "totalPages": page.total_pages,
        "totalElements": page.total_elements,
        "hasNext": page.has_next(page_index),
    }


class _Lenient(BaseModel):
    """Request bodies: camelCase as ThingsBoard's clients send them; unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EntityIdIn(_Lenient):
    id: uuid.UUID
    entity_type: str | None = Field(None, alias="entityType")


class LoginRequest(_Lenient):
    username: str
    password: str


class RefreshRequest(_Lenient):
    refresh_token: str = Field(alias="refreshToken")


class ActivateRequest(_Lenient):
    activate_token: str = Field(alias="activateToken")
    password: str


class ChangePasswordRequest(_Lenient):
    current_password: str = Field(alias="currentPassword")
    new_password: str = Field(alias="newPassword")


class ResetPasswordRequest(_Lenient):
    reset_token: str = Field(alias="resetToken")
    password: str


class JwtPair(BaseModel):
    token: str
    refreshToken: str  # noqa: N815 - ThingsBoard's field name


class CustomerIn(_Lenient):
    id: EntityIdIn | None = None
    title: str
    email: str | None = None
    additional_info: dict[str, Any] | None = Field(None, alias="additionalInfo")


class TenantIn(_Lenient):
    id: EntityIdIn | None = None
    title: str
    email: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    address: str | None = None
    address2: str | None = None
    zip: str | None = None
    phone: str | None = None
    additional_info: dict[str, Any] | None = Field(None, alias="additionalInfo")

    def contact(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in TENANT_CONTACT_FIELDS}


class UserIn(_Lenient):
    email: str
    authority: Authority
    customer_id: EntityIdIn | None = Field(None, alias="customerId")
    tenant_id: EntityIdIn | None = Field(None, alias="tenantId")  # a system administrator's new tenant admin
    first_name: str | None = Field(None, alias="firstName")
    last_name: str | None = Field(None, alias="lastName")
    additional_info: dict[str, Any] | None = Field(None, alias="additionalInfo")


class DeviceIn(_Lenient):
    id: EntityIdIn | None = None
    name: str
    type: str | None = "default"
    label: str | None = None
    additional_info: dict[str, Any] | None = Field(None, alias="additionalInfo")
