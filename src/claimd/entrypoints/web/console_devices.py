"""The console's Devices and Audit log pages (tenant admins, issue 23).

- ``/console/devices``: the tenant's devices in name order, a name-prefix search ("Search devices") and
  filters by owner, state, tag and kind, paged by keyset ("Next page" carries the last name and id):
  ``devices.browse``, tenant admins only, as ``GET /api/tenant/devices``.
- ``/console/devices/{id}``: one device without secrets, with its latest 50 audit rows
  (``devices.detail``, whose history is ``devices.audit_log``, the REST audit log's service call).
- ``/console/audit``: the tenant's audit log newest first, filtered by device name, action and outcome,
  paged by keyset (``devices.audit_search``).

No QR code and no label on the device page: both carry a secret (the claim link its key, a TR005 QR its
claim code), which claimd keeps only as a digest. They exist once, at provisioning (docs/web.md).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.device_list import AuditQuery, DeviceKind, DeviceQuery, DeviceState
from claimd.domain.errors import ClaimdError, NotFound
from claimd.domain.model import AuditAction, Principal
from claimd.entrypoints.web.pages import landing, redirect, render, to_login
from claimd.entrypoints.web.session import container_of, signed_in

router = APIRouter(include_in_schema=False)

#: The owner filter offers the first customers by title; more are reached by the REST API.
OWNER_CHOICES = 500
STATES = {"": "Any state", **{s.value: s.value.capitalize() for s in DeviceState}}
KINDS = {"": "Any kind", "key": "Secret key", "lorawan": "LoRaWAN", "identity": "Device identity"}
ACTIONS = ["", *(a.value for a in AuditAction)]
NO_DEVICE = "There is no such device in your tenant."


def when(ms: int | None) -> str:
    """Epoch milliseconds as UTC text, to the second."""
    if ms is None:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


async def _admin(request: Request) -> Principal | Response:
    """The signed-in tenant admin, or where to send anyone else (sign-in, or their own landing page)."""
    principal = await signed_in(request)
    if principal is None:
        return to_login(request)
    if not principal.is_tenant_admin:
        return redirect(request, landing(principal))
    return principal


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _clean(text: str | None) -> str:
    return (text or "").strip()[:255]


@router.get("/console/devices", response_class=HTMLResponse)
async def devices_page(
    request: Request,
    q: str = "",
    owner: str = "",
    state: str = "",
    tag: str = "",
    kind: str = "",
    after_name: str | None = None,
    after_id: str | None = None,
) -> Response:
    principal = await _admin(request)
    if isinstance(principal, Response):
        return principal
    c = container_of(request)
    form = {"q": _clean(q), "owner": owner, "state": state, "tag": _clean(tag), "kind": kind}
    query = DeviceQuery(
        name_prefix=form["q"] or None,
        customer_id=_uuid(owner),
        state=DeviceState(state) if state in STATES and state else None,
        tag=form["tag"] or None,
        kind=DeviceKind(kind) if kind in KINDS and kind else None,
    )
    after_uuid = _uuid(after_id)
    after = (after_name, after_uuid) if after_name is not None and after_uuid is not None else None
    customers = (await c.directory.list_customers(principal, 0, OWNER_CHOICES, None, "title", "ASC")).data
    tag_names = [t.name for t in await c.ownership.list_tags(principal)]
    page, error, status = None, None, 200
    try:
        page = await c.devices.browse(principal, query, after)
    except ClaimdError as exc:
        error, status = ("That owner is not one of your customers." if isinstance(exc, NotFound) else exc.message), 400
    filters = {k: v for k, v in form.items() if v}
    next_link = None
    if page is not None and page.next_after is not None:
        after_last = {"after_name": page.next_after[0], "after_id": str(page.next_after[1])}
        next_link = "/console/devices?" + urlencode({**filters, **after_last})
    filtered = any(form.values())
    return render(
        request,
        "console_devices.html",
        status,
        principal=principal,
        section="devices",
        form=form,
        page=page,
        error=error,
        customers=customers,
        tag_names=tag_names,
        states=STATES,
        kinds=KINDS,
        next_link=next_link,
        first_link="/console/devices?" + urlencode(filters) if after is not None else None,
        filtered=filtered,
        when=when,
    )


@router.get("/console/devices/{device_id}", response_class=HTMLResponse)
async def device_page(request: Request, device_id: str) -> Response:
    principal = await _admin(request)
    if isinstance(principal, Response):
        return principal
    wanted = _uuid(device_id)
    detail: Any = None
    if wanted is not None:
        try:
            detail = await container_of(request).devices.detail(principal, wanted)
        except ClaimdError:
            detail = None
    if detail is None:
        return render(request, "message.html", 404, principal=principal, title="No such device", error=NO_DEVICE)
    return render(request, "console_device.html", principal=principal, section="devices", d=detail, when=when)


@router.get("/console/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    device: str = "",
    action: str = "",
    outcome: str = "",
    before_time: int | None = None,
    before_id: str | None = None,
) -> Response:
    principal = await _admin(request)
    if isinstance(principal, Response):
        return principal
    form = {"device": _clean(device), "action": action if action in ACTIONS else "", "outcome": _clean(outcome)}
    query = AuditQuery(form["device"] or None, form["action"] or None, form["outcome"].upper() or None)
    before_uuid = _uuid(before_id)
    before = (before_time, before_uuid) if before_time is not None and before_uuid is not None else None
    page = await container_of(request).devices.audit_search(principal, query, before)
    filters = {k: v for k, v in form.items() if v}
    next_link = None
    if page.next_before is not None:
        before_last = {"before_time": str(page.next_before[0]), "before_id": str(page.next_before[1])}
        next_link = "/console/audit?" + urlencode({**filters, **before_last})
    return render(
        request,
        "console_audit.html",
        principal=principal,
        section="audit",
        form=form,
        page=page,
        actions=ACTIONS,
        next_link=next_link,
        first_link="/console/audit?" + urlencode(filters) if before is not None else None,
        when=when,
    )
