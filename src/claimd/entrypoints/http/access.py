"""Roles, users' roles and API keys (``/v1/roles``, ``/v1/users/{id}/role``, ``/v1/api-keys``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from claimd.domain.access import ApiKeyRecord
from claimd.domain.roles import Role
from claimd.entrypoints.http.responses import ApiKeyList, NewApiKey, RoleList, UserRoleSet, problem
from claimd.entrypoints.http.responses import Role as RoleOut
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep
from claimd.entrypoints.http.wire import iso_ms

router = APIRouter(tags=["roles and API keys"])


def role_json(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "description": role.description,
        "builtIn": role.built_in,
        "permissions": sorted(str(p) for p in role.permissions),
    }


def key_json(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "name": record.name,
        "prefix": record.prefix,
        "userId": str(record.user_id),
        "createdAt": iso_ms(record.created_time),
    }


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str | None = None
    permissions: list[str] = Field(..., description='e.g. ["DEVICE:READ", "DEVICE:CLAIM"]')


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    permissions: list[str]


class UserRole(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="What the key is for; shown in lists")


@router.get("/v1/roles", responses=problem({200: {"model": RoleList}}), summary="Built-in and tenant roles")
async def list_roles(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    found = await c.access.list_roles(principal)
    return {"items": [role_json(r) for r in found], "total": len(found)}


@router.post(
    "/v1/roles",
    status_code=201,
    responses=problem({201: {"model": RoleOut}}),
    summary="Define a tenant role (tenant admins)",
)
async def create_role(body: RoleBody, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return role_json(await c.access.save_role(principal, body.name, body.permissions, body.description, create=True))


@router.get("/v1/roles/{name}", responses=problem({200: {"model": RoleOut}}), summary="A role and its permissions")
async def get_role(name: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return role_json(await c.access.get_role(principal, name))


@router.put(
    "/v1/roles/{name}",
    responses=problem({200: {"model": RoleOut}}),
    summary="Change a tenant role's permissions (tenant admins)",
)
async def update_role(name: str, body: RoleUpdate, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return role_json(await c.access.save_role(principal, name, body.permissions, body.description, create=False))


@router.delete(
    "/v1/roles/{name}",
    status_code=204,
    responses=problem({}),
    summary="Delete a tenant role no user holds (tenant admins)",
)
async def delete_role(name: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.access.delete_role(principal, name)
    return Response(status_code=204)


@router.put(
    "/v1/users/{userId}/role", responses=problem({200: {"model": UserRoleSet}}), summary="Give a customer user a role"
)
async def set_user_role(userId: uuid.UUID, body: UserRole, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    role = await c.access.set_user_role(principal, userId, body.role)
    return {"userId": str(userId), "role": role.name}


@router.get(
    "/v1/api-keys",
    responses=problem({200: {"model": ApiKeyList}}),
    summary="Your API keys (never the keys themselves); tenant admins: any user's",
)
async def list_keys(
    principal: PrincipalDep,
    c: ContainerDep,
    userId: Annotated[uuid.UUID | None, Query(description="Tenant admins: this user's keys")] = None,
    allUsers: Annotated[bool, Query(description="Tenant admins: every key of the tenant")] = False,
) -> dict[str, Any]:
    found = await c.access.list_keys(principal, userId, allUsers)
    return {"items": [key_json(k) for k in found], "total": len(found)}


@router.post(
    "/v1/api-keys",
    status_code=201,
    responses=problem({201: {"model": NewApiKey}}),
    summary="Create an API key: shown once; use it as Authorization: Bearer <key>",
)
async def create_key(body: KeyBody, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    created = await c.access.create_key(principal, body.name)
    return {**key_json(created.record), "key": created.key}


@router.delete(
    "/v1/api-keys/{keyId}",
    status_code=204,
    responses=problem({}),
    summary="Revoke an API key (yours; tenant admins: any of the tenant)",
)
async def revoke_key(keyId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.access.revoke_key(principal, keyId)
    return Response(status_code=204)
