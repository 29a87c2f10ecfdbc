"""The console's Devices and Audit log pages (tenant admins).

- ``/console/devices``: the tenant's devices in name order, a name-prefix search ("Search devices") and
  filters by owner, state, tag and kind, paged by keyset ("Next page" carries the last name and id):
  ``fleet.browse``, tenant admins only, as ``GET /api/tenant/devices``.
- ``/console/devices/{id}``: one device without secrets, with its latest 50 audit rows
  (``fleet.detail``, whose history is the REST audit log's).
- ``/console/audit``: the tenant's audit log newest first, filtered by device name, action and outcome,
  paged by keyset (``fleet.audit_search``).

The device page's actions (block, release, tags, a new key or code) are in console_device_actions.py.

The device page never shows a QR code or a label: both carry a secret (the claim link its key, a TR005
QR its claim code), which claimd keeps only as a digest. They are shown once, in the answer to the
request that made them (provisioning, or a new key or code here), never on a later visit (docs/web.md).
"""

from __future__ import annotations

import datetime
import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.device_list import AuditQuery, DeviceDetail, DeviceKind, DeviceQuery, DeviceState
from claimd.domain.errors import ClaimdError, NotFound
from claimd.domain.model import AuditAction, Principal
from claimd.entrypoints.web.rendering import render, tenant_admin
from claimd.entrypoints.web.session import container_of

router = APIRouter(include_in_schema=False)

#: The owner filter offers the first customers by title; more are reached by the REST API.
OWNER_CHOICES = 500
STATES = {"": "Any state", **{s.value: s.value.capitalize() for s in DeviceState}}
KINDS = {"": "Any kind", "key": "Secret key", "lorawan": "LoRaWAN", "identity": "Device identity"}
ACTIONS = ["", *(a.value for a in AuditAction)]
NO_DEVICE = "There is no such device in your tenant."
#: What the device page says after an action succeeded (``?done=…`` of the redirect after the POST).
DONE = {
    "blocked": "Blocked {name}. Nobody can claim it while it is blocked, and only your tenant can unblock it.",
    "unblocked": "Unblocked {name}.",
    "released": "Released {name}. It has no owner now; its owner's tags and its secret key are gone.",
    "tags": "Saved the tags of {name}.",
}


def when(ms: int | None) -> str:
    """Epoch milliseconds as UTC text, to the second."""
    if ms is None:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


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
    principal = await tenant_admin(request)
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
        page = await c.fleet.browse(principal, query, after)
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


async def load_detail(request: Request, principal: Principal, device_id: str) -> DeviceDetail | None:
    wanted = _uuid(device_id)
    if wanted is None:
        return None
    try:
        return await container_of(request).fleet.detail(principal, wanted)
    except ClaimdError:
        return None


def no_device(request: Request, principal: Principal) -> HTMLResponse:
    return render(request, "message.html", 404, principal=principal, title="No such device", error=NO_DEVICE)


def device_view(
    request: Request,
    principal: Principal,
    detail: DeviceDetail,
    status: int = 200,
    *,
    notice: str | None = None,
    error: str | None = None,
    tags: str | None = None,
) -> HTMLResponse:
    """The device page; ``error`` says why an action was refused, ``tags`` keeps the typed tags."""
    return render(
        request,
        "console_device.html",
        status,
        principal=principal,
        section="devices",
        d=detail,
        when=when,
        notice=notice,
        error=error,
        tags=", ".join(detail.tags) if tags is None else tags,
    )


@router.get("/console/devices/{device_id}", response_class=HTMLResponse)
async def device_page(request: Request, device_id: str, done: str = "") -> Response:
    principal = await tenant_admin(request)
    detail = await load_detail(request, principal, device_id)
    if detail is None:
        return no_device(request, principal)
    notice = DONE[done].format(name=detail.device.name) if done in DONE else None
    return device_view(request, principal, detail, notice=notice)


@router.get("/console/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    device: str = "",
    action: str = "",
    outcome: str = "",
    before_time: int | None = None,
    before_id: str | None = None,
) -> Response:
    principal = await tenant_admin(request)
    form = {"device": _clean(device), "action": action if action in ACTIONS else "", "outcome": _clean(outcome)}
    query = AuditQuery(form["device"] or None, form["action"] or None, form["outcome"].upper() or None)
    before_uuid = _uuid(before_id)
    before = (before_time, before_uuid) if before_time is not None and before_uuid is not None else None
    page = await container_of(request).fleet.audit_search(principal, query, before)
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
