"""Tenants, for the system administrator (ThingsBoard's tenant endpoints)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from claimd.domain.model import Tenant
from claimd.entrypoints.http.responses import (
    EMPTY,
    TenantInfo,
    TenantInfoPageData,
    TenantPageData,
    UserPageData,
    thingsboard,
)
from claimd.entrypoints.http.responses import (
    Tenant as TenantOut,
)
from claimd.entrypoints.http.schemas import TenantIn, page_json, tenant_json, user_json
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep

router = APIRouter(tags=["tenants"])


@router.post(
    "/api/tenant",
    responses=thingsboard({200: {"model": TenantOut}}),
    summary="Create or update a tenant (system administrator)",
    description="Without `id` a new tenant; with it, that tenant's title, e-mail, contact details and "
    "additionalInfo. Make its tenant admins with `POST /api/user` (authority `TENANT_ADMIN`, "
    "`tenantId`).",
)
async def save_tenant(body: TenantIn, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    tenant = await c.directory.save_tenant(
        principal, body.title, body.email, body.contact(), body.additional_info, body.id.id if body.id else None
    )
    return tenant_json(tenant)


@router.get(
    "/api/tenants",
    responses=thingsboard({200: {"model": TenantPageData}}),
    summary="List the tenants (system administrator)",
)
async def list_tenants(
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    textSearch: str | None = None,
    sortProperty: str | None = None,
    sortOrder: str | None = None,
) -> dict[str, Any]:
    result = await c.directory.list_tenants(principal, page, pageSize, textSearch, sortProperty, sortOrder)
    return page_json(result, page, tenant_json)


@router.get(
    "/api/tenant/{tenantId}",
    responses=thingsboard({200: {"model": TenantOut}}),
    summary="Get a tenant (the system administrator, or the tenant's own admin)",
)
async def get_tenant(tenantId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return tenant_json(await c.directory.get_tenant(principal, tenantId))


@router.delete(
    "/api/tenant/{tenantId}",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Delete a tenant with its customers, users, devices and audit log (system administrator)",
)
async def delete_tenant(tenantId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.directory.delete_tenant(principal, tenantId)
    return Response(status_code=200)


@router.get(
    "/api/tenant/{tenantId}/users",
    responses=thingsboard({200: {"model": UserPageData}}),
    summary="List a tenant's admins (system administrator)",
)
async def list_tenant_admins(
    tenantId: uuid.UUID,
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    textSearch: str | None = None,
) -> dict[str, Any]:
    result = await c.directory.list_tenant_admins(principal, tenantId, page, pageSize, textSearch)
    return page_json(result, page, user_json)


def tenant_info_json(tenant: Tenant) -> dict[str, Any]:
    return {**tenant_json(tenant), "tenantProfileName": None}


@router.get(
    "/api/tenant/info/{tenantId}",
    responses=thingsboard({200: {"model": TenantInfo}}),
    summary="Get a tenant with its profile name (ThingsBoard's TenantInfo)",
)
async def get_tenant_info(tenantId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return tenant_info_json(await c.directory.get_tenant(principal, tenantId))


@router.get(
    "/api/tenantInfos",
    responses=thingsboard({200: {"model": TenantInfoPageData}}),
    summary="List the tenants with their profile names (system administrator)",
)
async def list_tenant_infos(
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    textSearch: str | None = None,
    sortProperty: str | None = None,
    sortOrder: str | None = None,
) -> dict[str, Any]:
    result = await c.directory.list_tenants(principal, page, pageSize, textSearch, sortProperty, sortOrder)
    return page_json(result, page, tenant_info_json)
