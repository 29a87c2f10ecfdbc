"""``/console/settings``: the tenant's claim page, as ThingsBoard's claiming widget settings (labels,
the secret key field shown or not, the words of each answer; domain/claim_page.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.claim_page import ClaimPageSettings
from claimd.domain.errors import ClaimdError
from claimd.domain.model import Principal
from claimd.entrypoints.web.rendering import EXPIRED_FORM, render, tenant_admin
from claimd.entrypoints.web.session import container_of, csrf_ok, read_form

router = APIRouter(include_in_schema=False)

#: The form's fields, in order, with their visible labels.
FIELDS = {
    "device_name_label": "Device name label",
    "secret_key_label": "Secret key label",
    "success": "Success message",
    "not_found": "Not found message",
    "wrong_key": "Wrong key message",
    "already_claimed": "Already claimed message",
    "blocked": "Blocked message",
    "too_many": "Too many attempts message",
}


def _page(
    request: Request,
    principal: Principal,
    values: ClaimPageSettings | dict[str, object],
    status: int = 200,
    **more: object,
) -> HTMLResponse:
    shown = values.as_json() if isinstance(values, ClaimPageSettings) else values
    return render(
        request,
        "console_settings.html",
        status,
        principal=principal,
        section="settings",
        fields=FIELDS,
        values=shown,
        **more,
    )


@router.get("/console/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> Response:
    principal = await tenant_admin(request)
    current = await container_of(request).directory.claim_page(principal)
    return _page(request, principal, current, saved=False, error=None)


@router.post("/console/settings", response_class=HTMLResponse)
async def save_settings(request: Request) -> Response:
    principal = await tenant_admin(request)
    form = await read_form(request)
    values: dict[str, object] = {name: form.get(name, "") for name in FIELDS}
    values["show_secret_key"] = "show_secret_key" in form
    if not csrf_ok(request, form):
        return _page(request, principal, values, 403, saved=False, error=EXPIRED_FORM)
    try:
        saved = await container_of(request).directory.save_claim_page(principal, values)
    except ClaimdError as exc:  # nothing typed is lost: the form comes back as sent
        return _page(request, principal, values, 400, saved=False, error=exc.message)
    return _page(request, principal, saved, saved=True, error=None)
