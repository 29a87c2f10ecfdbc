"""LoRaWAN over HTTP: The Things Stack's claiming and QR code APIs (``/api/v3/…``, TTS's JSON names,
EUIs as 16 upper-case hex digits, ``qr_code`` as base64, TTS's error body) and claimd's tenant API for
LoRaWAN identities (``/v1/lorawan-devices…``, problem details).

TTS's applications are groups of the calling customer's devices (see ``services/lorawan.py``).
"""

from __future__ import annotations

import base64
import codecs
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from claimd.adapters.qrimage import DEFAULT_IMAGE_SIZE, render_png, render_svg
from claimd.domain.bulk import MAX_RECORD_LENGTH, BulkEndpoint, RecordSplitter, cells
from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound
from claimd.domain.inputs import JsonScan
from claimd.domain.lorawan import (
    FORMAT_TR005,
    MAX_QR_TEXT_BYTES,
    MIN_QR_TEXT_BYTES,
    QR_FORMATS,
    LorawanDraft,
    LorawanIdentity,
    csv_header,
    draft_from_csv,
    draft_from_json,
    format_tr005,
    parse_qr,
    parse_timestamp,
    qr_format,
)
from claimd.domain.model import Device
from claimd.entrypoints.http.bulk import submit as submit_bulk
from claimd.entrypoints.http.errors import api_status, problem_code, tts_error_details
from claimd.entrypoints.http.limits import UPLOAD
from claimd.entrypoints.http.ownership import iso_ms, json_body, json_object
from claimd.entrypoints.http.responses import (
    BULK_ACCEPTED,
    Applications,
    ClaimBatch,
    ClaimInfo,
    ClaimInfoBatch,
    ClaimStatus,
    EndDeviceIds,
    EndDevices,
    LorawanDevice,
    LorawanDeviceWithCode,
    ParsedQr,
    QrCode,
    QrFormat,
    QrFormats,
    TtsEmpty,
    UnclaimBatch,
    problem,
    tts,
)
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep
from claimd.entrypoints.http.uploads import chunks as upload_chunks
from claimd.entrypoints.http.uploads import read_upload
from claimd.services.claims import CodeProof
from claimd.services.lorawan import MAX_BATCH, MAX_BATCH_CLAIMS, ImportResult, Provisioned, proof_from_qr

router = APIRouter(tags=["LoRaWAN (The Things Stack compatible)"])


class NoDevicesFound(InvalidArgument):
    code = "NO_DEVICES_FOUND"


# --- JSON shapes ------------------------------------------------------------------------------


def _object(body: dict[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{key} must be a JSON object")
    return value


def _string(body: dict[str, Any], key: str, what: str | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{what or key} must be a non-empty string")
    return value


def end_device_ids(application_id: str | None, device_id: str | None, identity: LorawanIdentity) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "application_ids": {"application_id": application_id},
        "dev_eui": identity.dev_eui,
        "join_eui": identity.join_eui,
    }


def _claimed_ids(identity: LorawanIdentity) -> dict[str, Any]:
    return end_device_ids(identity.application_id, identity.app_device_id, identity)


def _profile_json(identity: LorawanIdentity | Any) -> dict[str, int]:
    return {"vendor_id": identity.vendor_id, "vendor_profile_id": identity.profile_id}


def identity_json(device: Device, identity: LorawanIdentity) -> dict[str, Any]:
    """A tenant's view of a LoRaWAN device: never its code."""
    return {
        "id": str(device.id),
        "name": device.name,
        "ids": {"dev_eui": identity.dev_eui, "join_eui": identity.join_eui},
        "claim_authentication_code": {
            "valid_from": iso_ms(identity.valid_from),
            "valid_to": iso_ms(identity.valid_to),
            "spent_at": iso_ms(identity.code_spent_at),
        },
        "lora_alliance_profile_ids": _profile_json(identity),
        "serial_number": identity.serial,
        "owner_id": str(device.customer_id) if device.customer_id else None,
        "claimed_at": iso_ms(device.claimed_at),
        "blocked": device.is_blocked,
        "created_at": iso_ms(identity.created_time),
    }


def provisioned_json(p: Provisioned) -> dict[str, Any]:
    """The answer to the request that set a code: the only time the code (and its QR text) is shown."""
    body = identity_json(p.device, p.identity)
    body["claim_authentication_code"]["value"] = p.code
    body["qr_code"] = p.qr_text
    return body


def _claim_request(body: Any) -> tuple[CodeProof, str, str | None]:
    """TTS's ``ClaimEndDeviceRequest``: the proof, the application id, the target device id."""
    body = json_object(body)
    identifiers, qr = body.get("authenticated_identifiers"), body.get("qr_code")
    if (identifiers is None) == (qr is None):
        raise InvalidArgument("give one of authenticated_identifiers or qr_code (no_join_eui)")
    if identifiers is not None:
        identifiers = _object(body, "authenticated_identifiers")
        proof = CodeProof(
            _string(identifiers, "join_eui", "authenticated_identifiers.join_eui"),
            _string(identifiers, "dev_eui", "authenticated_identifiers.dev_eui"),
            _string(identifiers, "authentication_code", "authenticated_identifiers.authentication_code"),
        )
    else:
        proof = proof_from_qr(_qr_bytes(qr))
    application = _object(body, "target_application_ids", required=True)
    device_id = body.get("target_device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidArgument("target_device_id must be a string")
    return proof, _string(application, "application_id", "target_application_ids.application_id"), device_id or None


_BASE64_STD = re.compile(r"[A-Za-z0-9+/]*")
_BASE64_URL = re.compile(r"[A-Za-z0-9_-]*")


def _qr_bytes(value: object) -> bytes:
    """``qr_code`` as protobuf JSON reads a ``bytes`` field (Go's protojson, which TTS uses): standard
    base64, or URL-safe when the text holds ``-`` or ``_``; padded, or unpadded when its length is not
    a multiple of 4. Mixed alphabets and misplaced padding are refused, as there."""
    if not isinstance(value, str):
        raise InvalidArgument("qr_code must be the QR code text in base64")
    url_safe = "-" in value or "_" in value
    body = value[:-2] + value[-2:].rstrip("=") if len(value) % 4 == 0 else value  # padding: up to 2, at the end
    if not (_BASE64_URL if url_safe else _BASE64_STD).fullmatch(body) or len(body) % 4 == 1:
        raise InvalidArgument("qr_code must be the QR code text in base64 (standard or URL-safe, padded or not)")
    data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if url_safe else None)
    if not MIN_QR_TEXT_BYTES <= len(data) <= MAX_QR_TEXT_BYTES:
        raise InvalidArgument(f"qr_code must hold {MIN_QR_TEXT_BYTES} to {MAX_QR_TEXT_BYTES} bytes")
    return data


#: Map fields of TTS messages, whose keys are data, not field names.
_MAP_FIELDS = frozenset({"attributes"})
_CAMEL = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+")
#: TTS's request messages nest a few levels (``requests[].authenticated_identifiers.join_eui``).
MAX_TTS_DEPTH = 16


def _snake_names(value: Any, depth: int = 0) -> Any:
    """A TTS JSON value with its field names as the proto names (``joinEui`` → ``join_eui``), all
    through. protojson reads either spelling (the JSON name is lowerCamelCase, the proto name
    snake_case), so claimd reads TTS bodies through this once rather than field by field; a field
    given in both spellings is refused, as protojson refuses a duplicate field."""
    if depth > MAX_TTS_DEPTH and isinstance(value, (list, dict)):
        raise InvalidArgument(f"the JSON nests deeper than {MAX_TTS_DEPTH} levels")
    if isinstance(value, list):
        return [_snake_names(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, item in value.items():
        name = re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), key) if _CAMEL.fullmatch(key) else key
        if name in out:
            raise InvalidArgument(f"field {name} is given twice, as {spelled[name]} and as {key}: give one spelling")
        out[name], spelled[name] = (item if name in _MAP_FIELDS else _snake_names(item, depth + 1)), key
    return out


async def _tts_body(request: Request, *, required: bool = True) -> Any:
    """A JSON request body in TTS's names (see :func:`_snake_names`)."""
    return _snake_names(await json_body(request, required=required))


def _error_details(exc: ClaimdError) -> dict[str, Any]:
    return tts_error_details(api_status(exc), exc.message, exc.code)


def _join_eui_list(body: Any) -> list[str]:
    requests = json_object(body).get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH:
        raise InvalidArgument(f"requests must be a list of 1 to {MAX_BATCH} {{join_eui}} objects")
    if not all(isinstance(r, dict) for r in requests):
        raise InvalidArgument("each request is a {join_eui} object")
    return [_string(r, "join_eui") for r in requests]


# --- The Things Stack: claiming ---------------------------------------------------------------


@router.post(
    "/api/v3/edcs/claim",
    responses=tts({200: {"model": EndDeviceIds}}),
    summary="Claim a LoRaWAN device by JoinEUI, DevEUI and claim authentication code, or by its QR code "
    "(base64), into an application of yours",
)
async def claim(request: Request, principal: PrincipalDep, origin: OriginDep, c: ContainerDep) -> dict[str, Any]:
    proof, application_id, device_id = _claim_request(await _tts_body(request))
    result = await c.claims.claim_with_code(principal, proof, application_id, device_id, origin)
    return _claimed_ids(result.identity)


@router.post(
    "/api/v3/edcs/claim/batch",
    responses=tts({200: {"model": ClaimBatch}}),
    summary=f"claimd: claim up to {MAX_BATCH_CLAIMS} devices, each on its own, with a result per request",
)
async def claim_batch(request: Request, principal: PrincipalDep, origin: OriginDep, c: ContainerDep) -> dict[str, Any]:
    requests = json_object(await _tts_body(request)).get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_CLAIMS:
        raise InvalidArgument(f"requests must be a list of 1 to {MAX_BATCH_CLAIMS} claim requests")
    results: list[dict[str, Any]] = []
    for item in requests:
        try:
            proof, application_id, device_id = _claim_request(item)
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
    join_eui = _string(json_object(await _tts_body(request)), "join_eui")
    ((eui, supported),) = (await c.lorawan.supports_claiming(principal, [join_eui])).items()
    return {"join_eui": eui, "supports_claiming": supported}


@router.post(
    "/api/v3/edcs/claim/info/batch",
    responses=tts({200: {"model": ClaimInfoBatch}}),
    summary=f"GetInfoByJoinEUI for up to {MAX_BATCH} JoinEUIs",
)
async def claim_info_batch(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    found = await c.lorawan.supports_claiming(principal, _join_eui_list(await _tts_body(request)))
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
                "lora_alliance_profile_ids": _profile_json(identity),
                "serial_number": identity.serial,
            }
            for device, identity in found
        ]
    }


# --- The Things Stack: QR codes ---------------------------------------------------------------


@router.get(
    "/api/v3/qr-codes/end-devices/formats",
    responses=tts({200: {"model": QrFormats}}),
    summary="The end-device QR code formats claimd reads",
)
async def qr_formats(principal: PrincipalDep) -> dict[str, Any]:
    return {"formats": {fid: f.as_json() for fid, f in QR_FORMATS.items()}}


@router.get(
    "/api/v3/qr-codes/end-devices/formats/{format_id}",
    responses=tts({200: {"model": QrFormat}}),
    summary="One QR code format",
)
async def get_qr_format(format_id: str, principal: PrincipalDep) -> dict[str, Any]:
    return qr_format(format_id).as_json()


@router.post(
    "/api/v3/qr-codes/end-devices",
    responses=tts({200: {"model": QrCode}}),
    summary="A TR005 QR code (text, and PNG or SVG) for a device",
)
async def generate_qr(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    body = json_object(await _tts_body(request))
    format_id = body.get("format_id") or FORMAT_TR005
    if format_id != FORMAT_TR005:
        if isinstance(format_id, str):
            qr_format(format_id)  # an unknown format: 404 format_not_found, as TTS
        raise InvalidArgument("claimd generates tr005 QR codes only (the drafts are deprecated)")
    device = _object(body, "end_device", required=True)
    ids = _object(device, "ids")
    code = _object(device, "claim_authentication_code").get("value") or ""
    profile = _object(device, "lora_alliance_profile_ids")
    join_eui, dev_eui = ids.get("join_eui"), ids.get("dev_eui")
    if not isinstance(join_eui, str) or not isinstance(dev_eui, str):
        raise InvalidArgument(
            "end_device.ids.join_eui and end_device.ids.dev_eui are required (no_join_eui, no_dev_eui)"
        )
    draft = draft_from_json(
        {
            "ids": {"dev_eui": dev_eui, "join_eui": join_eui},
            "claim_authentication_code": code,
            "lora_alliance_profile_ids": profile,
            "serial_number": device.get("serial_number"),
        }
    )
    text = format_tr005(
        draft.join_eui,
        draft.dev_eui,
        vendor_id=draft.vendor_id,
        profile_id=draft.profile_id,
        owner_token=draft.code or "",
        serial=draft.serial or "",
    )
    answer: dict[str, Any] = {"text": text}
    image = body.get("image")
    if image is not None:
        if not isinstance(image, dict):
            raise InvalidArgument("image must be a JSON object {image_size}")
        size = image.get("image_size", DEFAULT_IMAGE_SIZE)
        if image.get("format", "png") == "svg":  # claimd's: an SVG instead of TTS's PNG
            answer["image"] = {
                "embedded": {
                    "mime_type": "image/svg+xml",
                    "data": base64.b64encode(render_svg(text, size).encode()).decode(),
                }
            }
        else:
            answer["image"] = {
                "embedded": {"mime_type": "image/png", "data": base64.b64encode(render_png(text, size)).decode()}
            }
    return answer


async def _parse(request: Request, format_id: str | None) -> dict[str, Any]:
    body = json_object(await _tts_body(request))
    format_id = format_id or body.get("format_id") or None
    if format_id is not None and not isinstance(format_id, str):
        raise InvalidArgument("format_id must be a string")
    found_format, qr = parse_qr(_qr_bytes(body.get("qr_code")), format_id)
    ids: dict[str, str] = {"dev_eui": qr.dev_eui}
    if qr.join_eui is not None:
        ids["join_eui"] = qr.join_eui
    device: dict[str, Any] = {"ids": ids}
    if qr.owner_token:
        device["claim_authentication_code"] = {"value": qr.owner_token}
    if qr.vendor_id or qr.profile_id:
        device["lora_alliance_profile_ids"] = _profile_json(qr)
    if qr.serial:
        device["serial_number"] = qr.serial
    return {
        "format_id": found_format,
        "end_device_template": {
            "end_device": device,
            "field_mask": {"paths": list(QR_FORMATS[found_format].field_mask)},
        },
    }


@router.post(
    "/api/v3/qr-codes/end-devices/parse",
    responses=tts({200: {"model": ParsedQr}}),
    summary="Read a device QR code (base64 text), any known format",
)
async def parse_any(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    return await _parse(request, None)


@router.post(
    "/api/v3/qr-codes/end-devices/{format_id}/parse",
    responses=tts({200: {"model": ParsedQr}}),
    summary="Read a device QR code in one format",
)
async def parse_format(format_id: str, request: Request, principal: PrincipalDep) -> dict[str, Any]:
    return await _parse(request, format_id)


# --- claimd: the tenant's LoRaWAN devices -----------------------------------------------------


@router.post(
    "/v1/lorawan-devices",
    status_code=201,
    responses=problem({201: {"model": LorawanDeviceWithCode}}),
    summary="Register a LoRaWAN device (TTS EndDevice JSON); the answer shows its code and QR text once",
)
async def provision(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    draft = draft_from_json(await _tts_body(request))
    return provisioned_json(await c.lorawan.provision(principal, draft))


@router.get(
    "/v1/lorawan-devices/{dev_eui}",
    responses=problem({200: {"model": LorawanDevice}}),
    summary="A LoRaWAN device of yours (never its code)",
)
async def get_device(dev_eui: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return identity_json(*await c.lorawan.get(principal, dev_eui))


@router.post(
    "/v1/lorawan-devices/{dev_eui}/claim-code",
    responses=problem({200: {"model": LorawanDeviceWithCode}}),
    summary="Set a new claim authentication code {value?, valid_from?, valid_to?} (generated when absent)",
)
async def set_code(dev_eui: str, request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    body = json_object(await _tts_body(request, required=False) or {})
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        raise InvalidArgument("value must be a string")
    found = await c.lorawan.set_code(
        principal,
        dev_eui,
        value or None,
        parse_timestamp(body.get("valid_from"), "valid_from"),
        parse_timestamp(body.get("valid_to"), "valid_to"),
    )
    return provisioned_json(found)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}},
    },
    **UPLOAD,
}
_IMPORT_CSV = (
    "row",
    "status",
    "id",
    "name",
    "dev_eui",
    "join_eui",
    "claim_authentication_code",
    "qr_code",
    "code",
    "message",
)


async def _import_rows(body: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, LorawanDraft | ClaimdError]]:
    """The devices of an uploaded file: a CSV with a header row, or TTS's JSON stream of ``EndDevice``
    objects (one per line or simply one after another). Devices are numbered from 1, the first
    data row (or JSON device) being 1; blank lines are not rows. A file error (not UTF-8, no
    header, broken JSON, an overlong record) raises."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    text, kind, number = "", None, 0
    splitter, header = RecordSplitter(), None
    json_decoder = json.JSONDecoder()
    json_scan = JsonScan()  # the input rule before the decoder, which recurses per nesting level

    def scanned(piece: str) -> str:
        problem = json_scan.feed(piece.encode("utf-8"))
        if problem is not None:
            raise InvalidArgument(f"the file {problem}; no device of the file was registered")
        return piece

    def csv_rows(rows: Any) -> list[tuple[int, LorawanDraft | ClaimdError]]:
        nonlocal header, number
        out: list[tuple[int, LorawanDraft | ClaimdError]] = []
        for row in rows:
            if header is None:
                header = csv_header(cells(row.line))
                continue
            number += 1
            try:
                out.append((number, draft_from_csv(header, cells(row.line))))
            except ClaimdError as exc:
                out.append((number, exc))
        return out

    def json_objects(final: bool) -> list[tuple[int, LorawanDraft | ClaimdError]]:
        nonlocal text, number
        out: list[tuple[int, LorawanDraft | ClaimdError]] = []
        while True:
            text = text.lstrip()
            if not text:
                return out
            try:
                value, end = json_decoder.raw_decode(text)
            except json.JSONDecodeError:
                if not final and len(text) <= MAX_RECORD_LENGTH:
                    return out  # more text may complete it
                raise InvalidArgument(
                    f"device {number + 1}: not a JSON object (or longer than {MAX_RECORD_LENGTH} "
                    "characters); no device of the file was registered"
                ) from None
            text = text[end:]
            for item in value if isinstance(value, list) else [value]:  # a JSON array of devices is read too
                number += 1
                try:
                    out.append((number, draft_from_json(_snake_names(item))))
                except ClaimdError as exc:
                    out.append((number, exc))

    try:
        async for chunk in body:
            piece = decoder.decode(chunk)
            if kind is None:
                text += piece
                if not text.strip():
                    continue
                kind, piece, text = ("json" if text.lstrip().startswith(("{", "[")) else "csv"), text, ""
            if kind == "csv":
                for item in csv_rows(splitter.feed(piece)):
                    yield item
            else:
                text += scanned(piece)
                for item in json_objects(False):
                    yield item
        piece = decoder.decode(b"", final=True)
        if kind == "csv":
            for item in csv_rows([*splitter.feed(piece), *splitter.close()]):
                yield item
        elif kind == "json":
            text += scanned(piece)
            for item in json_objects(True):
                yield item
    except UnicodeDecodeError:
        raise InvalidArgument("the file is not UTF-8 text") from None
    if kind is None or (kind == "csv" and header is None):
        raise InvalidArgument("the file has no devices")


def _import_line(row: dict[str, Any], format: str) -> bytes:
    if format == "ndjson":
        return (json.dumps(row) + "\n").encode()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([row.get(k, "") for k in _IMPORT_CSV])
    return out.getvalue().encode()


def _import_result(item: ImportResult) -> dict[str, Any]:
    if item.provisioned is not None:
        p = item.provisioned
        return {
            "row": item.index,
            "status": "OK",
            "id": str(p.device.id),
            "name": p.device.name,
            "dev_eui": p.identity.dev_eui,
            "join_eui": p.identity.join_eui,
            "claim_authentication_code": p.code,
            "qr_code": p.qr_text,
        }
    assert item.error is not None
    return {"row": item.index, "status": "ERROR", "code": problem_code(item.error), "message": item.error.message}


@router.post(
    "/v1/lorawan-devices/import",
    openapi_extra=_IMPORT_BODY,
    response_class=Response,
    responses=problem(
        {
            200: {
                "description": "One result per device, streamed",
                "content": {
                    "application/x-ndjson": {
                        "schema": {
                            "type": "string",
                            "description": (
                                'One JSON object per line: {"row", "status": "OK", "id", "name", "dev_eui", "join_eui", '
                                '"claim_authentication_code", "qr_code"} or {"row", "status": "ERROR", "code", "message"}; '
                                'the last line {"total", "succeeded", "failed"}'
                            ),
                        }
                    },
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "?format=csv: a header row, then one row per device",
                        }
                    },
                },
            }
        }
    ),
    summary="Register the LoRaWAN devices of a CSV (TTS columns + claim_authentication_code, valid_from, "
    "valid_to, serial_number) or JSON-lines file; answers one result per device (rows counted "
    "from 1), with each generated code and QR text shown this once",
)
async def import_devices(
    request: Request, principal: PrincipalDep, c: ContainerDep, format: str = "ndjson"
) -> Response:
    if format not in ("ndjson", "csv"):
        raise InvalidArgument("format is ndjson or csv")
    c.lorawan.check_importer(principal)  # before a large body is read
    # The whole upload first (see uploads.py: streaming an answer while reading the body hangs),
    # then a dry read of the file, so that a file error refuses it whole with 400 and no device
    # registered; only then are the devices registered and their results streamed.
    upload = await read_upload(request)
    try:
        async for _ in _import_rows(upload_chunks(upload)):
            pass
    except BaseException:
        upload.close()
        raise

    async def lines() -> AsyncIterator[bytes]:
        counts = {"OK": 0, "ERROR": 0}
        try:
            if format == "csv":
                yield (",".join(_IMPORT_CSV) + "\n").encode()
            async for item in c.lorawan.import_devices(principal, _import_rows(upload_chunks(upload))):
                row = _import_result(item)
                counts[row["status"]] += 1
                yield _import_line(row, format)
        finally:
            upload.close()
        if format == "ndjson":
            yield (
                json.dumps(
                    {"total": counts["OK"] + counts["ERROR"], "succeeded": counts["OK"], "failed": counts["ERROR"]}
                )
                + "\n"
            ).encode()

    return StreamingResponse(lines(), media_type="text/csv" if format == "csv" else "application/x-ndjson")


@router.post(
    "/v1/lorawan-claims/bulk",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
        **UPLOAD,
    },
    status_code=202,
    responses=problem({202: BULK_ACCEPTED}),
    summary="Claim many LoRaWAN devices as a bulk job: rows `join_eui,dev_eui,authentication_code"
    "[,application_id[,device_id]]` or a scanned QR text `qr_code[,application_id[,device_id]]`",
)
async def bulk_claim(
    request: Request, principal: PrincipalDep, c: ContainerDep, application_id: str | None = None
) -> Response:
    return await submit_bulk(request, principal, c, BulkEndpoint.CLAIM_LORAWAN_DEVICES, application_id)
