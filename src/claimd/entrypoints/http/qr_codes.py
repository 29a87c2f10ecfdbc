"""The Things Stack's QR code API (``/api/v3/qr-codes/end-devices…``): the formats claimd reads, a
device's TR005 QR code (text, PNG or SVG), and reading a scanned QR code (base64 text)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request

from claimd.adapters.qrimage import DEFAULT_IMAGE_SIZE, render_png, render_svg
from claimd.domain.lorawan_qr import QR_FORMATS, format_tr005, parse_qr, qr_format
from claimd.entrypoints.http.bodies import qr_image, read_qr_generate, read_qr_parse
from claimd.entrypoints.http.responses import ParsedQr, QrCode, QrFormat, QrFormats, tts
from claimd.entrypoints.http.security import PrincipalDep
from claimd.entrypoints.http.wire import profile_json

router = APIRouter(tags=["LoRaWAN (The Things Stack compatible)"])


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
    draft, image_request = await read_qr_generate(request)
    text = format_tr005(
        draft.join_eui,
        draft.dev_eui,
        vendor_id=draft.vendor_id,
        profile_id=draft.profile_id,
        owner_token=draft.code or "",
        serial=draft.serial or "",
    )
    answer: dict[str, Any] = {"text": text}
    image = qr_image(image_request)
    if image is not None:
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
    text, format_id = await read_qr_parse(request, format_id)
    found_format, qr = parse_qr(text, format_id)
    ids: dict[str, str] = {"dev_eui": qr.dev_eui}
    if qr.join_eui is not None:
        ids["join_eui"] = qr.join_eui
    device: dict[str, Any] = {"ids": ids}
    if qr.owner_token:
        device["claim_authentication_code"] = {"value": qr.owner_token}
    if qr.vendor_id or qr.profile_id:
        device["lora_alliance_profile_ids"] = profile_json(qr)
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
