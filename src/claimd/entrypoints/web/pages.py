"""The web pages: sign-in, the claim page, "My devices" and the console's first page.

Every page calls the same services as the REST API, through the container, as the signed-in user.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.claiming import ClaimResponse
from claimd.domain.errors import AuthenticationFailed, ClaimdError, InvalidArgument, PermissionDenied, TooManyRequests
from claimd.domain.model import Principal
from claimd.domain.ownership import ClaimedFilter, parse_tags
from claimd.domain.roles import DEVICE_CLAIM
from claimd.entrypoints.web.charts import bar_chart
from claimd.entrypoints.web.messages import refusal, refused_answer
from claimd.entrypoints.web.rendering import (
    EXPIRED_FORM,
    customer_user,
    landing,
    origin,
    redirect,
    render,
    signed_in_user,
    tenant_admin,
    to_login,
)
from claimd.entrypoints.web.session import (
    container_of,
    csrf_ok,
    end_session,
    read_form,
    safe_next,
    signed_in,
    start_session,
)
from claimd.services.lorawan import proof_from_qr

router = APIRouter(include_in_schema=False)

DEFAULT_APPLICATION = "default"
NO_DEVICE = "You have no such device. It may have been released already."
MY_DEVICES_PAGE = 100
OVERVIEW_DAYS = 30


# sign-in ---------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    principal = await signed_in(request)
    if principal is not None:
        return redirect(request, safe_next(next) or landing(principal))
    return render(request, "login.html", next=safe_next(next) or "", email="", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    email, target = form.get("email", "").strip(), safe_next(form.get("next")) or ""
    if not csrf_ok(request, form):
        return render(request, "login.html", 403, next=target, email=email, error=EXPIRED_FORM)
    c = container_of(request)
    try:
        token, _refresh = await c.accounts.login(email, form.get("password", ""), origin(request).source)
    except TooManyRequests as exc:
        error = f"Too many failed sign-ins. Try again in {exc.retry_after_s} seconds."
        return render(request, "login.html", 429, next=target, email=email, error=error)
    except ClaimdError:
        error = "The e-mail or the password is wrong."
        return render(request, "login.html", 401, next=target, email=email, error=error)
    principal = c.tokens.principal(token)
    response = redirect(request, target or landing(principal))
    start_session(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    if not csrf_ok(request, form):
        principal = await signed_in_user(request)
        return render(request, "message.html", 403, principal=principal, title="Not signed out", error=EXPIRED_FORM)
    response = redirect(request, "/login")
    end_session(request, response)
    return response


# the claim page --------------------------------------------------------------------------------
async def last_application(request: Request, principal: Principal) -> str:
    """The customer's most recently created LoRaWAN application, or ``default``."""
    try:
        found = await container_of(request).lorawan.applications(principal)
    except ClaimdError:
        return DEFAULT_APPLICATION
    return max(found, key=lambda app: app[1])[0] if found else DEFAULT_APPLICATION


def claim_form(
    device_name: str = "", secret_key: str = "", code: str = "", application: str = DEFAULT_APPLICATION, tags: str = ""
) -> dict[str, str]:
    return {
        "device_name": device_name,
        "secret_key": secret_key,
        "code": code,
        "application": application,
        "tags": tags,
    }


def role_refusal(principal: Principal) -> str:
    """Why a customer user whose role lacks Device × Claim (a VIEWER, say) cannot claim."""
    return (
        f"Your role ({principal.role.name}) may not claim devices: it lets you see devices, not claim them. "
        "Ask the owner of your account or your administrator for a role that may claim."
    )


@router.get("/claim", response_class=HTMLResponse)
async def claim_page(request: Request, deviceName: str = "", secretKey: str = "") -> Response:
    principal = await customer_user(request)
    form = claim_form(deviceName, secretKey, application=await last_application(request, principal))
    page = await container_of(request).directory.claim_page(principal)
    return render(request, "claim.html", principal=principal, page=page, form=form, success=None, error=None)


def link_fields(text: str) -> tuple[str, str] | None:
    """The device name and key of a claim link (``…/claim?deviceName=…&secretKey=…``), else ``None``."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.path.endswith("/claim"):
        return None
    query = parse_qs(parts.query)
    names = query.get("deviceName")
    return (names[0], query.get("secretKey", [""])[0]) if names else None


@router.post("/claim", response_class=HTMLResponse)
async def claim(request: Request) -> Response:
    principal = await signed_in_user(request)
    fields = await read_form(request)
    form = claim_form(
        fields.get("device_name", "").strip(),
        fields.get("secret_key", ""),
        fields.get("code", "").strip(),
        fields.get("application", "").strip() or DEFAULT_APPLICATION,
        fields.get("tags", "").strip(),
    )

    def again(status: int, error: str) -> HTMLResponse:
        # Nothing typed is lost: the same values come back, the secret key included (docs/web.md).
        return render(
            request, "claim.html", status, principal=principal, page=page, form=form, success=None, error=error
        )

    page = await container_of(request).directory.claim_page(principal)
    if not csrf_ok(request, fields):
        return again(403, EXPIRED_FORM)
    code, name, key = form["code"], form["device_name"], form["secret_key"]
    if code and (link := link_fields(code)):
        name, key, code = link[0], link[1], ""
        form.update(device_name=name, secret_key=key, code="")
    if not code and not name:
        return again(400, "Enter the device name and its secret key, or a code, or scan the label's QR code.")
    is_token = bool(code) and not code.upper().startswith("LW:")
    tags: tuple[str, ...] = ()
    if form["tags"]:
        if not is_token:
            return again(400, "Tags are kept only for a device claimed by its claim token. Clear the Tags field.")
        try:  # read here too, so that a bad tag is named as one (the claim reads them the same way)
            tags = parse_tags(form["tags"])
        except InvalidArgument as exc:
            return again(400, f"The tags could not be read: {exc.message}")
    c, where = container_of(request), origin(request)
    try:
        if code and not is_token:
            result = await c.claims.claim_with_code(principal, proof_from_qr(code), form["application"], None, where)
            claimed_name = result.device.name
        elif code:
            # as the ownership API's {claimToken, tags} (POST /v1/claimed-devices)
            claimed_name = (await c.claims.claim_with_token(principal, code, list(tags), where)).device.name
        else:
            answer = await c.claims.claim(principal, name, key, where)
            if answer.response is not ClaimResponse.SUCCESS:
                return again(400, refused_answer(answer.response, page, name))
            claimed_name = answer.device.name
    except AuthenticationFailed:
        return to_login(request)
    except PermissionDenied as exc:
        if not principal.can(DEVICE_CLAIM):
            return again(403, role_refusal(principal))
        return again(400, refusal(exc, page, "" if code else name))
    except ClaimdError as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 400
        return again(status, refusal(exc, page, "" if code else name))
    application = form["application"]
    return render(
        request,
        "claim.html",
        principal=principal,
        page=page,
        form=claim_form(application=application),
        success=page.say(page.success, device=claimed_name),
    )


# My devices ------------------------------------------------------------------------------------
@router.get("/my/devices", response_class=HTMLResponse)
async def my_devices(request: Request, after: str | None = None, released: str | None = None) -> Response:
    principal = await customer_user(request)
    try:
        page = await container_of(request).ownership.list_claimed(principal, ClaimedFilter(), MY_DEVICES_PAGE, after)
    except ClaimdError as exc:
        return render(request, "my_devices.html", 400, principal=principal, page=None, error=exc.message)
    return render(request, "my_devices.html", principal=principal, page=page, released=released, error=None)


async def _my_device(request: Request, principal: Principal, device_id: uuid.UUID) -> Any:
    return await container_of(request).ownership.get_claimed(principal, device_id)


@router.get("/my/devices/{device_id}/release", response_class=HTMLResponse)
async def release_page(request: Request, device_id: uuid.UUID) -> Response:
    principal = await signed_in_user(request)
    try:
        item = await _my_device(request, principal, device_id)
    except ClaimdError:
        return render(request, "message.html", 404, principal=principal, title="No such device", error=NO_DEVICE)
    return render(request, "release.html", principal=principal, item=item, error=None)


@router.post("/my/devices/{device_id}/release", response_class=HTMLResponse)
async def release(request: Request, device_id: uuid.UUID) -> Response:
    principal = await signed_in_user(request)
    form = await read_form(request)
    try:
        item = await _my_device(request, principal, device_id)
    except ClaimdError:
        return render(request, "message.html", 404, principal=principal, title="No such device", error=NO_DEVICE)
    if not csrf_ok(request, form):
        return render(request, "release.html", 403, principal=principal, item=item, error=EXPIRED_FORM)
    try:
        await container_of(request).claims.unclaim(principal, device_id, origin(request))
    except ClaimdError as exc:
        return render(request, "release.html", 400, principal=principal, item=item, error=exc.message)
    return redirect(request, f"/my/devices?released={quote(item.device.name, safe='')}")


# the console (tenant admins) -------------------------------------------------------------------
@router.get("/console", response_class=HTMLResponse)
@router.get("/console/", response_class=HTMLResponse)
async def console(request: Request) -> Response:
    principal = await tenant_admin(request)
    overview = await container_of(request).overview.overview(principal, OVERVIEW_DAYS)
    charts = [
        bar_chart("Claims per day", [(d.day, d.claims) for d in overview.days]),
        bar_chart("Failed claim attempts per day", [(d.day, d.failed) for d in overview.days]),
    ]
    return render(
        request, "console.html", principal=principal, section="overview", states=overview.devices, charts=charts
    )


@router.get("/console/{section}", response_class=HTMLResponse)
async def console_section(request: Request, section: str) -> Response:
    """Any other page under /console/: none such (the console's pages have their own routers)."""
    principal = await tenant_admin(request)
    return render(request, "message.html", 404, principal=principal, title="No such page", error="No such page.")
