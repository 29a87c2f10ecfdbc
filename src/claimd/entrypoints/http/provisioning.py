"""Provisioning commands over HTTP.

Owners: ``/v1/claimed-devices/{deviceId}/provisioning[/{commandId}[/reset]]`` (nRF Cloud's paths).
Devices: ``GET /v1/provisioning/commands`` and ``POST /v1/provisioning/response`` with
``Authorization: Bearer <JWT signed by the identity key>`` (the nRF Provisioning library's calls), or
``/api/v1/{accessToken}/provisioning/commands|response`` with the device's access token. Devices
that ask for ``application/cbor`` get the CDDL's CBOR; the others JSON.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from claimd.bootstrap import Container
from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Device
from claimd.domain.provisioning import redacted
from claimd.domain.provisioning_wire import MAX_REPORT_BYTES, decode_reports, encode_steps
from claimd.entrypoints.http.bodies import read_command
from claimd.entrypoints.http.responses import (
    Command,
    CommandList,
    DeviceStep,
    ReportOutcome,
    Responses,
    problem,
    thingsboard,
)
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep
from claimd.entrypoints.http.wire import iso_ms, limited_body
from claimd.services.provisioning import CommandView

router = APIRouter(tags=["provisioning commands"])
CBOR = "application/cbor"


def command_json(view: CommandView) -> dict[str, Any]:
    c = view.command
    return {
        "id": str(c.id),
        "deviceId": str(c.device_id),
        "description": c.description,
        "request": redacted(view.request),
        "status": c.status.value,
        "response": c.response,
        "createdAt": iso_ms(c.created_time),
        "updatedAt": iso_ms(c.updated_time),
        "deliveredAt": iso_ms(c.delivered_at),
        "createdBy": str(c.created_by) if c.created_by else None,
    }


# the owner's side -------------------------------------------------------------------------------
_CREATE_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["request"],
                    "properties": {"description": {"type": "string"}, "request": {"type": "object"}},
                },
                "example": {"description": "Set the report interval", "request": {"config": {"interval": "60"}}},
            }
        },
    }
}


@router.post(
    "/v1/claimed-devices/{deviceId}/provisioning",
    status_code=201,
    openapi_extra=_CREATE_DOC,
    responses=problem({201: {"model": Command}}),
    summary="Queue a provisioning command (at most 20 open per device)",
)
async def create_command(
    deviceId: uuid.UUID, request: Request, principal: PrincipalDep, c: ContainerDep
) -> JSONResponse:
    command, description = await read_command(request)
    view = await c.provisioning.create(principal, deviceId, command, description)
    return JSONResponse(command_json(view), status_code=201)


@router.get(
    "/v1/claimed-devices/{deviceId}/provisioning",
    responses=problem({200: {"model": CommandList}}),
    summary="A device's provisioning commands, in queue order",
)
async def list_commands(
    deviceId: uuid.UUID,
    principal: PrincipalDep,
    c: ContainerDep,
    status: str | None = None,
    pageLimit: Annotated[int, Query(ge=1, le=1000)] = 100,
    pageNextToken: str | None = None,
) -> dict[str, Any]:
    page = await c.provisioning.list(principal, deviceId, status, pageLimit, pageNextToken)
    body: dict[str, Any] = {"items": [command_json(v) for v in page.items], "total": page.total}
    if page.next_token:
        body["pageNextToken"] = page.next_token
    return body


@router.get(
    "/v1/claimed-devices/{deviceId}/provisioning/{commandId}",
    responses=problem({200: {"model": Command}}),
    summary="A provisioning command and its result",
)
async def get_command(
    deviceId: uuid.UUID, commandId: uuid.UUID, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return command_json(await c.provisioning.get(principal, deviceId, commandId))


@router.delete(
    "/v1/claimed-devices/{deviceId}/provisioning/{commandId}",
    responses=problem({200: {"model": Command}}),
    summary="Cancel an open command (it stays in the history as CANCELLED)",
)
async def cancel_command(
    deviceId: uuid.UUID, commandId: uuid.UUID, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return command_json(await c.provisioning.cancel(principal, deviceId, commandId))


@router.post(
    "/v1/claimed-devices/{deviceId}/provisioning/{commandId}/reset",
    responses=problem({200: {"model": Command}}),
    summary="Queue a finished command again (nRF Cloud's Reset)",
)
async def reset_command(
    deviceId: uuid.UUID, commandId: uuid.UUID, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return command_json(await c.provisioning.reset(principal, deviceId, commandId))


# the device's side ------------------------------------------------------------------------------
def _wants_cbor(request: Request) -> bool:
    return CBOR in request.headers.get("accept", "").lower()


def _sends_cbor(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == CBOR


async def _commands(
    device: Device, request: Request, c: Container, after: str | None, limit: int | None, rx_max_size: int | None
) -> Response:
    cbor = _wants_cbor(request)
    steps = await c.provisioning.fetch(device, after, limit, rx_max_size, cbor)
    if not steps:
        return Response(status_code=204)
    return Response(encode_steps(steps, cbor=cbor), media_type=CBOR if cbor else "application/json")


async def _response(device: Device, request: Request, c: Container) -> JSONResponse:
    reports = decode_reports(await limited_body(request, MAX_REPORT_BYTES), cbor=_sends_cbor(request))
    outcome = await c.provisioning.report(device, reports)
    return JSONResponse({"applied": outcome.applied, "ignored": outcome.ignored})


async def _jwt_device(request: Request, c: Container) -> Device:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("The device sends Authorization: Bearer <JWT signed by its identity key>")
    return await c.provisioning.device_by_jwt(token.strip())


After = Annotated[str | None, Query(description="The last correlation id the device finished")]
Limit = Annotated[int | None, Query(ge=1, le=100)]
_COMMANDS: Responses = {
    200: {
        "model": list[DeviceStep],
        "description": "The open commands' steps: JSON, or CBOR when asked for",
        "content": {
            CBOR: {"schema": {"type": "string", "format": "binary", "description": "The CDDL's commands array"}}
        },
    },
    204: {"description": "nothing to do"},
}
RxMax = Annotated[int | None, Query(alias="rxMaxSize", ge=64, description="The device's receive buffer in bytes")]


@router.get(
    "/v1/provisioning/commands",
    summary="Device: fetch open commands (Bearer JWT of the identity key)",
    responses=problem(_COMMANDS),
)
async def device_commands_jwt(
    request: Request, c: ContainerDep, after: After = None, limit: Limit = None, rx_max_size: RxMax = None
) -> Response:
    return await _commands(await _jwt_device(request, c), request, c, after, limit, rx_max_size)


@router.post(
    "/v1/provisioning/response",
    responses=problem({200: {"model": ReportOutcome}}),
    summary="Device: report command results (Bearer JWT of the identity key)",
)
async def device_response_jwt(request: Request, c: ContainerDep) -> JSONResponse:
    return await _response(await _jwt_device(request, c), request, c)


@router.get(
    "/api/v1/{accessToken}/provisioning/commands",
    summary="Device: fetch open commands (access token)",
    responses=thingsboard(_COMMANDS),
)
async def device_commands_token(
    accessToken: str,
    request: Request,
    c: ContainerDep,
    after: After = None,
    limit: Limit = None,
    rx_max_size: RxMax = None,
) -> Response:
    return await _commands(await c.devices.by_access_token(accessToken), request, c, after, limit, rx_max_size)


@router.post(
    "/api/v1/{accessToken}/provisioning/response",
    responses=thingsboard({200: {"model": ReportOutcome}}),
    summary="Device: report command results (access token)",
)
async def device_response_token(accessToken: str, request: Request, c: ContainerDep) -> JSONResponse:
    return await _response(await c.devices.by_access_token(accessToken), request, c)
