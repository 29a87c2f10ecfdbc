"""Device attributes through ThingsBoard's telemetry paths (all three save forms; text/plain bodies too).

Bodies are read raw: ThingsBoard's Python client sends JSON with ``Content-Type: text/plain``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from claimd.entrypoints.http.responses import EMPTY, AttributeValue, thingsboard
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep

router = APIRouter(prefix="/api/plugins/telemetry", tags=["attributes"])

_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": True},
                "example": {"claimingData": {"secretKey": "abc", "expirationTime": 1893456000000}},
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def _keys(keys: str | None) -> list[str] | None:
    if keys is None:
        return None
    return [k.strip() for k in keys.split(",") if k.strip()]


async def _save(
    request: Request, principal: Any, c: Any, entity_type: str, entity_id: uuid.UUID, scope: str
) -> Response:
    await c.devices.save_attributes(principal, entity_type, entity_id, scope, await request.body())
    return Response(status_code=200)


@router.post(
    "/{entityType}/{entityId}/{scope}",
    openapi_extra=_JSON_BODY,
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Save attributes",
)
async def save_entity_attributes_v1(
    entityType: str, entityId: uuid.UUID, scope: str, request: Request, principal: PrincipalDep, c: ContainerDep
) -> Response:
    return await _save(request, principal, c, entityType, entityId, scope)


@router.post(
    "/{entityType}/{entityId}/attributes/{scope}",
    openapi_extra=_JSON_BODY,
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Save attributes",
)
async def save_entity_attributes_v2(
    entityType: str, entityId: uuid.UUID, scope: str, request: Request, principal: PrincipalDep, c: ContainerDep
) -> Response:
    return await _save(request, principal, c, entityType, entityId, scope)


@router.post(
    "/{deviceId}/{scope}",
    openapi_extra=_JSON_BODY,
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Save device attributes (legacy path)",
)
async def save_device_attributes(
    deviceId: uuid.UUID, scope: str, request: Request, principal: PrincipalDep, c: ContainerDep
) -> Response:
    return await _save(request, principal, c, "DEVICE", deviceId, scope)


def _values(rows: list[Any]) -> list[dict[str, Any]]:
    return [{"lastUpdateTs": a.last_update_ts, "key": a.key, "value": a.value} for _, a in rows]


@router.get(
    "/{entityType}/{entityId}/values/attributes/{scope}",
    responses=thingsboard({200: {"model": list[AttributeValue]}}),
    summary="Attribute values of one scope",
)
async def get_attributes_by_scope(
    entityType: str, entityId: uuid.UUID, scope: str, principal: PrincipalDep, c: ContainerDep, keys: str | None = None
) -> list[dict[str, Any]]:
    return _values(await c.devices.get_attributes(principal, entityType, entityId, scope, _keys(keys)))


@router.get(
    "/{entityType}/{entityId}/values/attributes",
    responses=thingsboard({200: {"model": list[AttributeValue]}}),
    summary="Attribute values of every scope",
)
async def get_attributes(
    entityType: str, entityId: uuid.UUID, principal: PrincipalDep, c: ContainerDep, keys: str | None = None
) -> list[dict[str, Any]]:
    return _values(await c.devices.get_attributes(principal, entityType, entityId, None, _keys(keys)))


@router.delete(
    "/{entityType}/{entityId}/{scope}",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Delete attributes (?keys=a,b)",
)
async def delete_entity_attributes(
    entityType: str, entityId: uuid.UUID, scope: str, principal: PrincipalDep, c: ContainerDep, keys: str | None = None
) -> Response:
    await c.devices.delete_attributes(principal, entityType, entityId, scope, _keys(keys) or [])
    return Response(status_code=200)


@router.delete(
    "/{deviceId}/{scope}",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Delete device attributes (legacy path)",
)
async def delete_device_attributes(
    deviceId: uuid.UUID, scope: str, principal: PrincipalDep, c: ContainerDep, keys: str | None = None
) -> Response:
    await c.devices.delete_attributes(principal, "DEVICE", deviceId, scope, _keys(keys) or [])
    return Response(status_code=200)
