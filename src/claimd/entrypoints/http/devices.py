"""Devices: create, get, list, credentials, assign and unassign, delete, and the audit log."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from claimd.domain.model import AuditEvent
from claimd.entrypoints.http.responses import (
    EMPTY,
    AuditLogPageData,
    Device,
    DeviceCredentials,
    DevicePageData,
    thingsboard,
)
from claimd.entrypoints.http.schemas import DeviceIn, device_json, entity_id, page_json
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep
from claimd.services.devices import DeviceDraft

router = APIRouter(tags=["devices"])


@router.post(
    "/api/device",
    responses=thingsboard({200: {"model": Device}}),
    summary="Create (or, with an id, update) a device; accessToken is optional",
)
async def save_device(
    body: DeviceIn, principal: PrincipalDep, c: ContainerDep, accessToken: str | None = None
) -> dict[str, Any]:
    draft = DeviceDraft(body.name, body.type or "default", body.label, body.additional_info)
    if body.id is not None:
        return device_json(await c.devices.update(principal, body.id.id, draft))
    return device_json(await c.devices.create(principal, draft, accessToken))


@router.get("/api/device/{deviceId}", responses=thingsboard({200: {"model": Device}}), summary="Get a device")
async def get_device(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return device_json(await c.devices.get(principal, deviceId))


@router.delete(
    "/api/device/{deviceId}", response_class=Response, responses=thingsboard({200: EMPTY}), summary="Delete a device"
)
async def delete_device(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.devices.delete(principal, deviceId)
    return Response(status_code=200)


@router.get(
    "/api/tenant/devices",
    responses=thingsboard({200: {"model": DevicePageData | Device}}),
    summary="List the tenant's devices, or get one with ?deviceName=",
)
async def tenant_devices(
    principal: PrincipalDep,
    c: ContainerDep,
    deviceName: str | None = None,
    pageSize: int = 10,
    page: int = 0,
    type: str | None = None,
    textSearch: str | None = None,
    sortProperty: str | None = None,
    sortOrder: str | None = None,
) -> dict[str, Any]:
    if deviceName is not None:
        return device_json(await c.devices.get_by_name(principal, deviceName))
    result = await c.devices.list(principal, page, pageSize, textSearch, type, None, sortProperty, sortOrder)
    return page_json(result, page, device_json)


@router.get(
    "/api/tenant/device", responses=thingsboard({200: {"model": Device}}), summary="Get a tenant device by name"
)
async def tenant_device(deviceName: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return device_json(await c.devices.get_by_name(principal, deviceName))


@router.get(
    "/api/customer/{customerId}/devices",
    responses=thingsboard({200: {"model": DevicePageData}}),
    summary="List a customer's devices",
)
async def customer_devices(
    customerId: uuid.UUID,
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    type: str | None = None,
    textSearch: str | None = None,
    sortProperty: str | None = None,
    sortOrder: str | None = None,
) -> dict[str, Any]:
    result = await c.devices.list(principal, page, pageSize, textSearch, type, customerId, sortProperty, sortOrder)
    return page_json(result, page, device_json)


@router.get(
    "/api/device/{deviceId}/credentials",
    responses=thingsboard({200: {"model": DeviceCredentials}}),
    summary="The device's access token (tenant admins only)",
)
async def device_credentials(deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    device, token = await c.devices.credentials(principal, deviceId)
    return {
        "id": {"id": str(uuid.uuid5(device.id, "credentials"))},
        "createdTime": device.created_time,
        "deviceId": entity_id("DEVICE", device.id),
        "credentialsType": "ACCESS_TOKEN",
        "credentialsId": token,
        "credentialsValue": None,
        "version": 1,
    }


@router.post(
    "/api/customer/{customerId}/device/{deviceId}",
    responses=thingsboard({200: {"model": Device}}),
    summary="Assign a device to a customer",
)
async def assign_device(
    customerId: uuid.UUID, deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep
) -> dict[str, Any]:
    return device_json(await c.devices.assign(principal, customerId, deviceId, origin))


@router.delete(
    "/api/customer/device/{deviceId}",
    responses=thingsboard({200: {"model": Device}}),
    summary="Unassign a device from its customer",
)
async def unassign_device(
    deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep
) -> dict[str, Any]:
    return device_json(await c.devices.unassign(principal, deviceId, origin))


@router.post(
    "/api/owner/CUSTOMER/{ownerId}/DEVICE/{deviceId}",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Assign (the path tb-rest-client 4.4 uses)",
)
async def change_owner_to_customer(
    ownerId: uuid.UUID, deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep
) -> Response:
    await c.devices.assign(principal, ownerId, deviceId, origin)
    return Response(status_code=200)


@router.post(
    "/api/owner/TENANT/{ownerId}/DEVICE/{deviceId}",
    response_class=Response,
    responses=thingsboard(
        {
            200: EMPTY,
            404: {"description": "Empty body when ownerId is not the caller's tenant; else ThingsBoard's error body"},
        }
    ),
    summary="Unassign (the path tb-rest-client 4.4 uses)",
)
async def change_owner_to_tenant(
    ownerId: uuid.UUID, deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, origin: OriginDep
) -> Response:
    if ownerId != principal.tenant_id:
        return Response(status_code=404)
    await c.devices.unassign(principal, deviceId, origin)
    return Response(status_code=200)


def audit_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": {"id": str(e.id)},
        "createdTime": e.created_time,
        "tenantId": entity_id("TENANT", e.tenant_id),
        "customerId": entity_id("CUSTOMER", e.customer_id),
        "userId": entity_id("USER", e.user_id) if e.user_id else None,
        "entityId": entity_id("DEVICE", e.device_id) if e.device_id else None,
        "entityName": e.device_name,
        "actionType": e.action.value,
        "actionStatus": e.outcome,
        "door": e.door.value,
        "source": e.source,
        "actionData": _action_data(e),
    }


def _action_data(e: AuditEvent) -> dict[str, Any]:
    """The detail, and for failed guesses kept as one line how many there were and when the last was."""
    data: dict[str, Any] = {"detail": e.detail} if e.detail else {}
    if e.repeats > 1:
        data.update(count=e.repeats, lastTime=e.last_time)
    return data


@router.get(
    "/api/audit/logs",
    responses=thingsboard({200: {"model": AuditLogPageData}}),
    summary="The tenant's audit log: claims, failed claims, reclaims, assigns, unassigns",
)
async def audit_logs(principal: PrincipalDep, c: ContainerDep, pageSize: int = 10, page: int = 0) -> dict[str, Any]:
    return page_json(await c.devices.audit_log(principal, page, pageSize), page, audit_json)


@router.get(
    "/api/audit/logs/entity/DEVICE/{deviceId}",
    responses=thingsboard({200: {"model": AuditLogPageData}}),
    summary="One device's audit log",
)
async def device_audit_logs(
    deviceId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, pageSize: int = 10, page: int = 0
) -> dict[str, Any]:
    return page_json(await c.devices.audit_log(principal, page, pageSize, deviceId), page, audit_json)
