"""``/console/api-keys``: a tenant admin's API keys — every key of the tenant listed (name, prefix,
whose, when), a new key of its own shown once, and revoking any key of the tenant (as
``/v1/api-keys``, through the same service)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.errors import ClaimdError
from claimd.domain.model import Principal
from claimd.entrypoints.web.rendering import EXPIRED_FORM, redirect, render, tenant_admin
from claimd.entrypoints.web.session import container_of, csrf_ok, read_form

router = APIRouter(include_in_schema=False)


async def _page(request: Request, principal: Principal, status: int = 200, **shown: object) -> HTMLResponse:
    keys = await container_of(request).access.list_keys(principal, all_users=True)
    shown = {"new_key": None, "error": None, "notice": None, "name": "", **shown}
    return render(request, "console_api_keys.html", status, principal=principal, section="api-keys", keys=keys, **shown)


@router.get("/console/api-keys", response_class=HTMLResponse)
async def api_keys(request: Request, revoked: str | None = None) -> Response:
    principal = await tenant_admin(request)
    return await _page(request, principal, notice="The key was revoked." if revoked else None)


@router.post("/console/api-keys", response_class=HTMLResponse)
async def create_key(request: Request) -> Response:
    principal = await tenant_admin(request)
    form = await read_form(request)
    name = form.get("name", "")
    if not csrf_ok(request, form):
        return await _page(request, principal, 403, error=EXPIRED_FORM, name=name)
    try:
        made = await container_of(request).access.create_key(principal, name)
    except ClaimdError as exc:
        return await _page(request, principal, 400, error=exc.message, name=name)
    return await _page(request, principal, new_key=made)  # shown here, once: only its digest is kept


@router.post("/console/api-keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: uuid.UUID) -> Response:
    principal = await tenant_admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return await _page(request, principal, 403, error=EXPIRED_FORM)
    try:
        await container_of(request).access.revoke_key(principal, key_id)
    except ClaimdError as exc:
        return await _page(request, principal, 404, error=exc.message)
    return redirect(request, "/console/api-keys?revoked=1")
