"""The Things Stack's claiming API (``/api/v3/edcs/claim…``) and its applications (``/api/v3/applications…``):
TTS's JSON names, EUIs as 16 upper-case hex digits, TTS's error body.

TTS's applications are groups of the calling customer's devices (see ``services/lorawan.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound
from claimd.domain.lorawan import LorawanIdentity
from claimd.entrypoints.http.bodies import (
    claim_request,
    read_claim,
    read_claim_batch,
    read_join_eui,
    read_join_euis,
)
from claimd.entrypoints.http.errors import api_status, tts_error_details
from claimd.entrypoints.http.responses import (
    Applications,
    ClaimBatch,
    ClaimInfo,
    ClaimInfoBatch,
    ClaimStatus,
    EndDeviceIds,
    EndDevices,
    TtsEmpty,
    UnclaimBatch,
    tts,
)
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep
from claimd.entrypoints.http.wire import iso_ms, profile_json
from claimd.services.lorawan import MAX_BATCH, MAX_BATCH_CLAIMS

router = APIRouter(tags=["LoRaWAN (The Things Stack compatible)"])


class NoDevicesFound(InvalidArgument):
    code = "NO_DEVICES_FOUND"


def end_device_ids(application_id: str | None, device_id: str | None, identity: LorawanIdentity) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "application_ids": {"application_id": application_id},
        "dev_eui": identity.dev_eui,
        "join_eui": identity.join_eui,
    }


def _claimed_ids(identity: LorawanIdentity) -> dict[str, Any]:
    return end_device_ids(identity.application_id, identity.app_device_id, identity)


def _error_details(exc: ClaimdError) -> dict[str, Any]:
    return tts_error_details(api_status(exc), exc.message, exc.code)


@router.post(
    "/api/v3/edcs/claim",
    responses=tts({200: {"model": EndDeviceIds}}),
    summary="Claim a LoRaWAN device by JoinEUI, DevEUI and claim authentication code, or by its QR code "
    "(base64), into an application of yours",
)
async def claim(request: Request, principal: PrincipalDep, origin: OriginDep, c: ContainerDep) -> dict[str, Any]:
    proof, application_id, device_id = await read_claim(request)
    result = await c.claims.claim_with_code(principal, proof, application_id, device_id, origin)
    return _claimed_ids(result.identity)


@router.post(
    "/api/v3/edcs/claim/batch",
    responses=tts({200: {"model": ClaimBatch}}),
    summary=f"claimd: claim up to {MAX_BATCH_CLAIMS} devices, each on its own, with a result per request",
)
async def claim_batch(request: Request, principal: PrincipalDep, origin: OriginDep, c: ContainerDep) -> dict[str, Any]:
    requests = await read_claim_batch(request)
    results: list[dict[str, Any]] = []
    for item in requests:
        try:
            proof, application_id, device_id = claim_request(item)
            result = await c.claims.claim_with_code(principal, proof, application_id, device_id, origin)
            results.append({"end_device_ids": _claimed_ids(result.identity), "created": result.created})
        except ClaimdError as exc:
            results.append({"error": _error_details(exc)})
    return {"results": results}


@router.post(
    "/api/v3/edcs/claim/info",
    responses=tts({200: {"model": ClaimInfo}}),
    summary="Whether devices of this JoinEUI can be claimed here",
)
async def claim_info(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    join_eui = await read_join_eui(request)
    ((eui, supported),) = (await c.lorawan.supports_claiming(principal, [join_eui])).items()
    return {"join_eui": eui, "supports_claiming": supported}


@router.post(
    "/api/v3/edcs/claim/info/batch",
    responses=tts({200: {"model": ClaimInfoBatch}}),
    summary=f"GetInfoByJoinEUI for up to {MAX_BATCH} JoinEUIs",
)
async def claim_info_batch(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    found = await c.lorawan.supports_claiming(principal, await read_join_euis(request))
    return {"infos": [{"join_eui": eui, "supports_claiming": ok} for eui, ok in found.items()]}


@router.delete(
    "/api/v3/edcs/claim/{application_id}/devices/batch",
    responses=tts({200: {"model": UnclaimBatch}}),
    summary=f"Unclaim up to {MAX_BATCH} devices of an application (device_ids repeated); "
    "the ones that could not be are in `failed`",
)
async def unclaim_batch(
    application_id: str,
    request: Request,
    principal: PrincipalDep,
    origin: OriginDep,
    c: ContainerDep,
    device_ids: list[str] = Query(default=[]),
) -> dict[str, Any]:
    device_ids = [*device_ids, *request.query_params.getlist("deviceIds")]  # grpc-gateway reads the JSON name too
    if not 1 <= len(device_ids) <= MAX_BATCH:
        raise InvalidArgument(f"give 1 to {MAX_BATCH} device_ids")
    failed = await c.lorawan.unclaim(principal, application_id, device_ids, origin)
    if len(failed) == len(device_ids) and all(isinstance(exc, NotFound) for exc in failed.values()):
        raise NoDevicesFound("none of the devices was found in the application (no_devices_found)")
    return {
        "application_ids": {"application_id": application_id},
        "failed": {device_id: _error_details(exc) for device_id, exc in failed.items()},
    }


@router.get(
    "/api/v3/edcs/claim/{application_id}/devices/{device_id}",
    responses=tts({200: {"model": ClaimStatus}}),
    summary="A claimed device's claim status",
)
async def claim_status(application_id: str, device_id: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    device, identity = await c.lorawan.status(principal, application_id, device_id)
    return {"end_device_ids": _claimed_ids(identity), "locked": True, "claimed_at": iso_ms(device.claimed_at)}


@router.delete(
    "/api/v3/edcs/claim/{application_id}/devices/{device_id}",
    responses=tts({200: {"model": TtsEmpty}}),
    summary="Unclaim a device: it leaves you and your application; its code stays spent",
)
async def unclaim(
    application_id: str, device_id: str, principal: PrincipalDep, origin: OriginDep, c: ContainerDep
) -> dict[str, Any]:
    failed = await c.lorawan.unclaim(principal, application_id, [device_id], origin)
    if device_id in failed:
        raise failed[device_id]
    return {}


@router.get(
    "/api/v3/applications",
    responses=tts({200: {"model": Applications}}),
    summary="Your applications (groups of your claimed LoRaWAN devices)",
)
async def applications(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    found = await c.lorawan.applications(principal)
    return {
        "applications": [
            {"ids": {"application_id": app}, "created_at": iso_ms(created), "end_device_count": count}
            for app, created, count in found
        ]
    }


@router.get(
    "/api/v3/applications/{application_id}/devices",
    responses=tts(
        {
            200: {
                "model": EndDevices,
                "headers": {
                    "X-Total-Count": {
                        "required": True,
                        "description": "How many devices the application has",
                        "schema": {"type": "integer"},
                    }
                },
            }
        }
    ),
    summary="The devices of one of your applications",
)
async def application_devices(
    application_id: str, principal: PrincipalDep, c: ContainerDep, response: Response, limit: int = 100, page: int = 1
) -> dict[str, Any]:
    found, total = await c.lorawan.list_devices(principal, application_id, page, limit)
    response.headers["X-Total-Count"] = str(total)
    return {
        "end_devices": [
            {
                "ids": _claimed_ids(identity),
                "name": device.name,
                "created_at": iso_ms(device.claimed_at),
                "lora_alliance_profile_ids": profile_json(identity),
                "serial_number": identity.serial,
            }
            for device, identity in found
        ]
    }
