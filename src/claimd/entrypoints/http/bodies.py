"""The request bodies claimd reads by hand, in one place; every other JSON body is a pydantic model
beside its route (``schemas.py`` for ThingsBoard's, ``access.py``, ``ownership.py``).

Each reader says in one line why it is not a model. Bodies read elsewhere, by hand for the same kind
of reason: ThingsBoard's claim bodies (``claims.py``, ``device_api.py``: an absent, empty or broken
body has ThingsBoard's own answers, parsed in ``domain/claiming.py``), attributes (``telemetry.py``:
raw, JSON sent as text/plain), a device's command results (``provisioning.py``: JSON or CBOR) and
uploads (``uploads.py``, ``lorawan_import.py``: streamed, never held as one value).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi import Request

from claimd.domain.errors import InvalidArgument
from claimd.domain.lorawan import LorawanDraft
from claimd.domain.lorawan_import import draft_from_json, parse_timestamp
from claimd.domain.lorawan_qr import FORMAT_TR005, MAX_QR_TEXT_BYTES, MIN_QR_TEXT_BYTES, qr_format
from claimd.entrypoints.http.wire import json_body, json_object
from claimd.services.claiming import CodeProof
from claimd.services.lorawan import MAX_BATCH, MAX_BATCH_CLAIMS, proof_from_qr

# --- nRF Cloud and claimd (problem details) -----------------------------------------------------


def _nrf_string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"'{key}' must be a non-empty string")
    return value


async def read_token_claim(request: Request) -> tuple[str, Any]:
    """``{claimToken, tags?}``: the token and the tags (unchecked; the service checks them)."""
    # By hand: the same route takes CSV, and its 400 messages (a missing body, a blank token) are nRF Cloud's.
    body = json_object(await json_body(request))
    return _nrf_string(body, "claimToken"), body.get("tags")


async def read_command(request: Request) -> tuple[Any, Any]:
    """A provisioning command ``{request, description?}``: both unchecked (the service checks them)."""
    # By hand: the service checks the caller's permission before the fields, so a bad body must reach it.
    body = json_object(await json_body(request))
    return body.get("request"), body.get("description")


# --- The Things Stack (TTS's names, TTS's error body) -------------------------------------------
# By hand, all of them: read in either spelling (join_eui, joinEui; one given twice refused, as protojson
# does), and their 400 messages and their order are TTS's, naming TTS's fields; a model's would differ.

#: Map fields of TTS messages, whose keys are data, not field names.
_MAP_FIELDS = frozenset({"attributes"})
_CAMEL = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+")
#: TTS's request messages nest a few levels (``requests[].authenticated_identifiers.join_eui``).
MAX_TTS_DEPTH = 16


def snake_names(value: Any, depth: int = 0) -> Any:
    """A TTS JSON value with its field names as the proto names (``joinEui`` → ``join_eui``), all
    through. protojson reads either spelling (the JSON name is lowerCamelCase, the proto name
    snake_case), so claimd reads TTS bodies through this once rather than field by field; a field
    given in both spellings is refused, as protojson refuses a duplicate field."""
    if depth > MAX_TTS_DEPTH and isinstance(value, (list, dict)):
        raise InvalidArgument(f"the JSON nests deeper than {MAX_TTS_DEPTH} levels")
    if isinstance(value, list):
        return [snake_names(item, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, item in value.items():
        name = re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), key) if _CAMEL.fullmatch(key) else key
        if name in out:
            raise InvalidArgument(f"field {name} is given twice, as {spelled[name]} and as {key}: give one spelling")
        out[name], spelled[name] = (item if name in _MAP_FIELDS else snake_names(item, depth + 1)), key
    return out


async def tts_body(request: Request, *, required: bool = True) -> Any:
    """A JSON request body in TTS's names (see :func:`snake_names`)."""
    return snake_names(await json_body(request, required=required))


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


_BASE64_STD = re.compile(r"[A-Za-z0-9+/]*")
_BASE64_URL = re.compile(r"[A-Za-z0-9_-]*")


def qr_bytes(value: object) -> bytes:
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


def claim_request(body: Any) -> tuple[CodeProof, str, str | None]:
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
        proof = proof_from_qr(qr_bytes(qr))
    application = _object(body, "target_application_ids", required=True)
    device_id = body.get("target_device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidArgument("target_device_id must be a string")
    return proof, _string(application, "application_id", "target_application_ids.application_id"), device_id or None


async def read_claim(request: Request) -> tuple[CodeProof, str, str | None]:
    """``POST /api/v3/edcs/claim``: one :func:`claim_request`."""
    return claim_request(await tts_body(request))


async def read_claim_batch(request: Request) -> list[Any]:
    """``{requests: [ClaimEndDeviceRequest…]}``: the requests, each still to be read with :func:`claim_request`
    (a bad one is that request's error, not the batch's)."""
    requests = json_object(await tts_body(request)).get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_CLAIMS:
        raise InvalidArgument(f"requests must be a list of 1 to {MAX_BATCH_CLAIMS} claim requests")
    return requests


async def read_join_eui(request: Request) -> str:
    """TTS's ``GetInfoByJoinEUIRequest``: ``{join_eui}``."""
    return _string(json_object(await tts_body(request)), "join_eui")


async def read_join_euis(request: Request) -> list[str]:
    """TTS's ``GetInfoByJoinEUIsRequest``: ``{requests: [{join_eui}…]}``."""
    requests = json_object(await tts_body(request)).get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH:
        raise InvalidArgument(f"requests must be a list of 1 to {MAX_BATCH} {{join_eui}} objects")
    if not all(isinstance(r, dict) for r in requests):
        raise InvalidArgument("each request is a {join_eui} object")
    return [_string(r, "join_eui") for r in requests]


async def read_qr_generate(request: Request) -> tuple[LorawanDraft, object]:
    """TTS's ``GenerateEndDeviceQRCodeRequest``: the device, and ``image`` as given (see :func:`qr_image`)."""
    body = json_object(await tts_body(request))
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
    return draft, body.get("image")


def qr_image(image: object) -> dict[str, Any] | None:
    """The ``image`` of a QR code request: None (no image) or ``{image_size?, format?}`` (read after the
    text is made, so that a bad device is told before a bad image)."""
    if image is None:
        return None
    if not isinstance(image, dict):
        raise InvalidArgument("image must be a JSON object {image_size}")
    return image


async def read_qr_parse(request: Request, format_id: str | None) -> tuple[bytes, str | None]:
    """TTS's ``ParseEndDeviceQRCodeRequest``: the QR text and the format (the path's, else the body's)."""
    body = json_object(await tts_body(request))
    format_id = format_id or body.get("format_id") or None
    if format_id is not None and not isinstance(format_id, str):
        raise InvalidArgument("format_id must be a string")
    return qr_bytes(body.get("qr_code")), format_id


async def read_end_device(request: Request) -> LorawanDraft:
    """A TTS ``EndDevice`` to register."""
    return draft_from_json(await tts_body(request))


async def read_code(request: Request) -> tuple[str | None, int | None, int | None]:
    """``{value?, valid_from?, valid_to?}`` (all optional, the body too): a new claim authentication code."""
    body = json_object(await tts_body(request, required=False) or {})
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        raise InvalidArgument("value must be a string")
    return (
        value or None,
        parse_timestamp(body.get("valid_from"), "valid_from"),
        parse_timestamp(body.get("valid_to"), "valid_to"),
    )
