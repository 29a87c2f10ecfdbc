"""The console's actions on one device (tenant admins), each a POST with the CSRF token through the
same service as the REST API, answered on the device page (a redirect, so a reload repeats nothing):
block and unblock, release behind a confirmation page, the tenant's tags, and — behind a confirmation
page — "New key and label" (a generated key stored as the server-side ``claimingData``, as provisioning
does) or, for a LoRaWAN device, "New claim code and QR" (``lorawan.set_code``). A new key or code is
shown once, in the answer that made it, never on a later visit."""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.adapters.qrimage import render_png
from claimd.domain.claiming import CLAIMING_DATA, EXPIRATION_TIME_FIELD, SECRET_KEY_FIELD
from claimd.domain.device_list import DeviceDetail
from claimd.domain.errors import ClaimdError
from claimd.domain.model import Principal
from claimd.entrypoints.web.console_devices import device_view, load_detail, no_device
from claimd.entrypoints.web.console_provisioning import (
    DAY_MS,
    DEFAULT_VALID_DAYS,
    KEY_BYTES,
    QR_SIZE,
    claim_link,
    data_url,
    label_svg,
)
from claimd.entrypoints.web.rendering import EXPIRED_FORM, origin, redirect, render, tenant_admin
from claimd.entrypoints.web.session import container_of, csrf_ok, read_form

router = APIRouter(include_in_schema=False)

HAS_OWNER = "{name} has an owner: release it first, then make a new {what}."
IS_LORAWAN = "{name} is a LoRaWAN device: it is claimed with a claim code. Make a new claim code instead."
NOT_LORAWAN = "{name} is not a LoRaWAN device: it has no claim code. Make a new key and label instead."
NO_OWNER = "{name} has no owner: there is nothing to release."


async def _posted(request: Request, device_id: str) -> tuple[Principal, DeviceDetail, dict[str, str]] | Response:
    """A device action's signed-in tenant admin, device and form; or the answer (away, no such device)."""
    principal = await tenant_admin(request)
    form = await read_form(request)
    detail = await load_detail(request, principal, device_id)
    if detail is None:
        return no_device(request, principal)
    return principal, detail, form


def _done(request: Request, detail: DeviceDetail, what: str) -> Response:
    return redirect(request, f"/console/devices/{detail.device.id}?done={what}")


# block, unblock, tags ------------------------------------------------------------------------------
async def _set_blocked(request: Request, device_id: str, blocked: bool) -> Response:
    posted = await _posted(request, device_id)
    if isinstance(posted, Response):
        return posted
    principal, detail, form = posted
    if not csrf_ok(request, form):
        return device_view(request, principal, detail, 403, error=EXPIRED_FORM)
    try:
        await container_of(request).ownership.set_blocked(principal, detail.device.id, blocked, origin(request))
    except ClaimdError as exc:
        return device_view(request, principal, detail, 400, error=exc.message)
    return _done(request, detail, "blocked" if blocked else "unblocked")


@router.post("/console/devices/{device_id}/block", response_class=HTMLResponse)
async def block(request: Request, device_id: str) -> Response:
    return await _set_blocked(request, device_id, True)


@router.post("/console/devices/{device_id}/unblock", response_class=HTMLResponse)
async def unblock(request: Request, device_id: str) -> Response:
    return await _set_blocked(request, device_id, False)


@router.post("/console/devices/{device_id}/tags", response_class=HTMLResponse)
async def save_tags(request: Request, device_id: str) -> Response:
    """The tenant's tags on the device, replaced by the comma-separated field (empty: none)."""
    posted = await _posted(request, device_id)
    if isinstance(posted, Response):
        return posted
    principal, detail, form = posted
    typed = form.get("tags", "")
    if not csrf_ok(request, form):
        return device_view(request, principal, detail, 403, error=EXPIRED_FORM, tags=typed)
    try:
        await container_of(request).ownership.tag_device(principal, detail.device.id, [typed], replace_all=True)
    except ClaimdError as exc:
        return device_view(request, principal, detail, 400, error=exc.message, tags=typed)
    return _done(request, detail, "tags")


# release (with a confirmation) -------------------------------------------------------------------
def _confirm(
    request: Request, principal: Principal, detail: DeviceDetail, kind: str, status: int = 200, error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "console_confirm.html",
        status,
        principal=principal,
        section="devices",
        d=detail,
        kind=kind,
        error=error,
        days=DEFAULT_VALID_DAYS,
    )


@router.get("/console/devices/{device_id}/release", response_class=HTMLResponse)
async def release_page(request: Request, device_id: str) -> Response:
    principal = await tenant_admin(request)
    detail = await load_detail(request, principal, device_id)
    if detail is None:
        return no_device(request, principal)
    if not detail.device.is_assigned:
        return device_view(request, principal, detail, 409, error=NO_OWNER.format(name=detail.device.name))
    return _confirm(request, principal, detail, "release")


@router.post("/console/devices/{device_id}/release", response_class=HTMLResponse)
async def release(request: Request, device_id: str) -> Response:
    posted = await _posted(request, device_id)
    if isinstance(posted, Response):
        return posted
    principal, detail, form = posted
    if not detail.device.is_assigned:
        return device_view(request, principal, detail, 409, error=NO_OWNER.format(name=detail.device.name))
    if not csrf_ok(request, form):
        return _confirm(request, principal, detail, "release", 403, EXPIRED_FORM)
    try:
        await container_of(request).claims.unclaim(principal, detail.device.id, origin(request))
    except ClaimdError as exc:
        return _confirm(request, principal, detail, "release", 400, exc.message)
    return _done(request, detail, "released")


# a new key and label, or a new LoRaWAN claim code (with a confirmation; shown once) --------------
def _renew_refusal(detail: DeviceDetail, kind: str) -> str | None:
    """Why ``kind`` ("key" or "code") cannot be renewed on this device, or ``None``."""
    name = detail.device.name
    if detail.device.is_assigned:
        return HAS_OWNER.format(name=name, what="key and label" if kind == "key" else "claim code")
    if kind == "key" and detail.lorawan is not None:
        return IS_LORAWAN.format(name=name)
    if kind == "code" and detail.lorawan is None:
        return NOT_LORAWAN.format(name=name)
    return None


async def _renew_page(request: Request, device_id: str, kind: str) -> Response:
    principal = await tenant_admin(request)
    detail = await load_detail(request, principal, device_id)
    if detail is None:
        return no_device(request, principal)
    if (refusal := _renew_refusal(detail, kind)) is not None:
        return device_view(request, principal, detail, 409, error=refusal)
    return _confirm(request, principal, detail, kind)


@router.get("/console/devices/{device_id}/new-key", response_class=HTMLResponse)
async def new_key_page(request: Request, device_id: str) -> Response:
    return await _renew_page(request, device_id, "key")


@router.get("/console/devices/{device_id}/new-code", response_class=HTMLResponse)
async def new_code_page(request: Request, device_id: str) -> Response:
    return await _renew_page(request, device_id, "code")


async def _renewing(request: Request, device_id: str, kind: str) -> tuple[Principal, DeviceDetail] | Response:
    posted = await _posted(request, device_id)
    if isinstance(posted, Response):
        return posted
    principal, detail, form = posted
    if (refusal := _renew_refusal(detail, kind)) is not None:
        return device_view(request, principal, detail, 409, error=refusal)
    if not csrf_ok(request, form):
        return _confirm(request, principal, detail, kind, 403, EXPIRED_FORM)
    return principal, detail


def _file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


@router.post("/console/devices/{device_id}/new-key", response_class=HTMLResponse)
async def new_key(request: Request, device_id: str) -> Response:
    """A new generated key as the server-side ``claimingData`` (replacing the old one), shown once."""
    renewing = await _renewing(request, device_id, "key")
    if isinstance(renewing, Response):
        return renewing
    principal, detail = renewing
    c, device = container_of(request), detail.device
    key = secrets.token_urlsafe(KEY_BYTES)
    claiming = {SECRET_KEY_FIELD: key, EXPIRATION_TIME_FIELD: c.devices.clock() + DEFAULT_VALID_DAYS * DAY_MS}
    try:
        await c.devices.save_attributes(
            principal, "DEVICE", device.id, "SERVER_SCOPE", json.dumps({CLAIMING_DATA: claiming})
        )
    except ClaimdError as exc:
        return _confirm(request, principal, detail, "key", 400, exc.message)
    link = claim_link(request, device.name, key)
    made = {
        "key": key,
        "days": DEFAULT_VALID_DAYS,
        "link": link,
        "qr": data_url("image/png", render_png(link, QR_SIZE)),
        "label": data_url("image/svg+xml", label_svg(device.name, link).encode()),
        "label_file": f"label-{_file_name(device.name)}.svg",
    }
    return render(request, "console_renewed.html", principal=principal, section="devices", d=detail, made=made)


@router.post("/console/devices/{device_id}/new-code", response_class=HTMLResponse)
async def new_code(request: Request, device_id: str) -> Response:
    """A new generated LoRaWAN claim code without a validity window (the old one stops claiming), shown
    once as the device's TR005 QR text and image."""
    renewing = await _renewing(request, device_id, "code")
    if isinstance(renewing, Response):
        return renewing
    principal, detail = renewing
    assert detail.lorawan is not None
    try:
        made = await container_of(request).lorawan.set_code(principal, detail.lorawan.dev_eui, None, None, None)
    except ClaimdError as exc:
        return _confirm(request, principal, detail, "code", 400, exc.message)
    text = made.qr_text
    shown = {
        "code": made.code,
        "qr_text": text,
        "qr": data_url("image/png", render_png(text, QR_SIZE)),
        "qr_file": f"qr-{_file_name(detail.device.name)}.png",
    }
    return render(request, "console_renewed.html", principal=principal, section="devices", d=detail, made=shown)
