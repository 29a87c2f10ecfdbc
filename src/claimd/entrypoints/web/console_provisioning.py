"""The console's provisioning pages (tenant admins): one device with a generated secret key shown once
(its claim link as a QR code and a printable label), and a CSV upload that runs as the bulk job of
``POST /v1/device-identities/bulk``, followed on a job page with a live progress bar.

The same service calls as the REST API: ``devices.create`` (``POST /api/device``), the key through
``devices.save_attributes`` as the ``claimingData`` server attribute (stored as a keyed digest, never
in plain text: ``POST /api/plugins/telemetry/DEVICE/{id}/SERVER_SCOPE``), ``bulk.submit`` /
``bulk.get`` / ``bulk.rows`` (the bulk upload, its job and its ``results.json?format=csv``).
"""

from __future__ import annotations

import base64
import csv
import email.parser
import email.policy
import html
import io
import json
import secrets
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from claimd.adapters.qrimage import render_png, render_svg
from claimd.domain.bulk import BulkEndpoint, BulkOp, BulkStatus
from claimd.domain.claim_page import claim_link as page_claim_link
from claimd.domain.claiming import CLAIMING_DATA, EXPIRATION_TIME_FIELD, SECRET_KEY_FIELD
from claimd.domain.errors import ClaimdError, InvalidArgument
from claimd.domain.model import Principal
from claimd.entrypoints.web.rendering import (
    EXPIRED_FORM,
    SECURITY_HEADERS,
    redirect,
    render,
    tenant_admin,
)
from claimd.entrypoints.web.session import CSRF_FIELD, container_of, csrf_ok, read_form, signed_in
from claimd.services.devices import DeviceDraft

router = APIRouter(include_in_schema=False)

#: 12 random bytes: 16 URL-safe characters, easy to type from a label, 96 bits to guess.
KEY_BYTES = 12
DEFAULT_VALID_DAYS = 3650
MAX_VALID_DAYS = 36500
DAY_MS = 86_400_000
QR_SIZE = 300
RECENT_JOBS = 10
#: The CSV of the form is read whole (the page's body limit, CLAIMD_HTTP_MAX_BODY_BYTES, 1 MiB by
#: default); larger files go through POST /v1/device-identities/bulk, streamed.
CSV_COLUMNS = 'id,publicKey[,deviceType,firmwareId,imei,"tags",name]'


def base_url(request: Request) -> str:
    return (container_of(request).settings.public_url or str(request.base_url)).rstrip("/")


def claim_link(request: Request, name: str, key: str) -> str:
    """The claim link a label's QR code carries, on this server (docs/web.md, "The claim link")."""
    return page_claim_link(base_url(request), name, key)


def label_svg(name: str, link: str) -> str:
    """A printable label: the claim link's QR code, the device name and the link in words."""
    qr = render_svg(link, QR_SIZE).split("?>", 1)[-1].strip()
    qr = qr.replace("<svg ", '<svg x="30" y="20" ', 1)
    width, height = 360, 420
    lines = [link[i : i + 48] for i in range(0, len(link), 48)][:4]
    words = "".join(
        f'<text x="{width // 2}" y="{352 + 14 * n}" font-size="11" text-anchor="middle" '
        f'font-family="monospace">{html.escape(line)}</text>'
        for n, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#fff"/>{qr}'
        f'<text x="{width // 2}" y="335" font-size="18" font-weight="bold" text-anchor="middle" '
        f'font-family="sans-serif">{html.escape(name)}</text>{words}</svg>'
    )


def data_url(media_type: str, content: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


async def _recent_jobs(request: Request, principal: Principal) -> list[BulkOp]:
    try:
        ops = await container_of(request).bulk.list(principal, RECENT_JOBS)
    except ClaimdError:
        return []
    return [op for op in ops if op.endpoint is BulkEndpoint.REGISTER_PUBLIC_KEYS]


async def _page(
    request: Request, principal: Principal, status: int = 200, *, form: dict[str, str] | None = None, **context: object
) -> HTMLResponse:
    context.setdefault("created", None)
    context.setdefault("error", None)
    context.setdefault("csv_error", None)
    return render(
        request,
        "console_provisioning.html",
        status,
        principal=principal,
        section="provisioning",
        form=form or {"name": "", "type": "default", "days": str(DEFAULT_VALID_DAYS)},
        jobs=await _recent_jobs(request, principal),
        columns=CSV_COLUMNS,
        **context,
    )


@router.get("/console/provisioning", response_class=HTMLResponse)
async def provisioning_page(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    return await _page(request, principal)


def _valid_days(text: str) -> int:
    try:
        days = int(text.strip() or DEFAULT_VALID_DAYS)
    except ValueError:
        raise InvalidArgument(f"Key valid for (days) is a whole number from 1 to {MAX_VALID_DAYS}") from None
    if not 1 <= days <= MAX_VALID_DAYS:
        raise InvalidArgument(f"Key valid for (days) is a whole number from 1 to {MAX_VALID_DAYS}")
    return days


@router.post("/console/provisioning", response_class=HTMLResponse)
async def create_device(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    fields = await read_form(request)
    form = {
        "name": fields.get("device_name", "").strip(),
        "type": fields.get("device_type", "").strip() or "default",
        "days": fields.get("valid_days", "").strip() or str(DEFAULT_VALID_DAYS),
    }
    if not csrf_ok(request, fields):
        return await _page(request, principal, 403, form=form, error=EXPIRED_FORM)
    c = container_of(request)
    try:
        days = _valid_days(form["days"])
        device = await c.devices.create(principal, DeviceDraft(name=form["name"], type=form["type"]))
    except ClaimdError as exc:
        return await _page(request, principal, 400, form=form, error=exc.message)
    key = secrets.token_urlsafe(KEY_BYTES)
    claiming = {SECRET_KEY_FIELD: key, EXPIRATION_TIME_FIELD: c.devices.clock() + days * DAY_MS}
    try:
        await c.devices.save_attributes(
            principal, "DEVICE", device.id, "SERVER_SCOPE", json.dumps({CLAIMING_DATA: claiming})
        )
    except ClaimdError as exc:  # a device without its key would be a label nobody can use
        await c.devices.delete(principal, device.id)
        return await _page(request, principal, 400, form=form, error=exc.message)
    link = claim_link(request, device.name, key)
    created = {
        "device": device,
        "key": key,
        "link": link,
        "qr": data_url("image/png", render_png(link, QR_SIZE)),
        "label": data_url("image/svg+xml", label_svg(device.name, link).encode()),
        "label_file": f"label-{''.join(ch if ch.isalnum() or ch in '-_.' else '_' for ch in device.name)}.svg",
        "days": days,
    }
    return await _page(request, principal, 201, created=created)


# CSV upload ------------------------------------------------------------------------------------
def read_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a ``multipart/form-data`` body by name (the first of each); ``{}`` when it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return {}
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes) and name not in parts:
            parts[name] = payload
    return parts


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


@router.post("/console/provisioning/csv", response_class=HTMLResponse)
async def upload_csv(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    try:
        parts = read_multipart(request.headers.get("content-type", ""), await request.body())
    except (ValueError, UnicodeError):
        parts = {}
    token = parts.get(CSRF_FIELD, b"").decode("utf-8", "replace")
    if not csrf_ok(request, {CSRF_FIELD: token}):
        return await _page(request, principal, 403, csv_error=EXPIRED_FORM)
    content = parts.get("file", b"")
    if not content.strip():
        return await _page(request, principal, 400, csv_error="Choose a CSV file to upload.")
    c = container_of(request)
    try:
        op, _new = await c.bulk.submit(principal, BulkEndpoint.REGISTER_PUBLIC_KEYS, _once(content))
    except ClaimdError as exc:
        return await _page(request, principal, 400, csv_error=exc.message)
    return redirect(request, f"/console/jobs/{quote(op.id, safe='')}")


# bulk jobs -------------------------------------------------------------------------------------
def progress_of(op: BulkOp) -> dict[str, object]:
    done = op.succeeded + op.failed
    finished = op.status in (BulkStatus.SUCCEEDED, BulkStatus.FAILED)
    percent = 100 if finished else (100 * done // op.total if op.total else 0)
    return {
        "status": op.status.value,
        "total": op.total,
        "succeeded": op.succeeded,
        "failed": op.failed,
        "done": done,
        "percent": percent,
        "finished": finished,
    }


@router.get("/console/jobs/{op_id}", response_class=HTMLResponse)
async def job_page(request: Request, op_id: str) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    try:
        op = await container_of(request).bulk.get(principal, op_id)
    except ClaimdError:
        return render(
            request, "message.html", 404, principal=principal, title="No such job", error="No bulk job with this id."
        )
    return render(
        request, "console_job.html", principal=principal, section="provisioning", op=op, progress=progress_of(op)
    )


@router.get("/console/jobs/{op_id}/progress")
async def job_progress(request: Request, op_id: str) -> Response:
    """The job's counters as JSON, polled by static/console.js every second."""
    principal = await signed_in(request)
    if principal is None or not principal.is_tenant_admin:
        return JSONResponse({"error": "Sign in again."}, status_code=401, headers=SECURITY_HEADERS)
    try:
        op = await container_of(request).bulk.get(principal, op_id)
    except ClaimdError:
        return JSONResponse({"error": "No bulk job with this id."}, status_code=404, headers=SECURITY_HEADERS)
    return JSONResponse(progress_of(op), headers=SECURITY_HEADERS)


@router.get("/console/jobs/{op_id}/report.csv")
async def job_report(request: Request, op_id: str) -> Response:
    """The per-row report: ``results.json?format=csv`` of the REST API, through the same service calls."""
    principal = await tenant_admin(request)
    assert principal is not None
    c = container_of(request)
    try:
        op = await c.bulk.get(principal, op_id)
    except ClaimdError:
        return render(
            request, "message.html", 404, principal=principal, title="No such job", error="No bulk job with this id."
        )

    async def body() -> AsyncIterator[bytes]:
        yield b"row,status,deviceId,message\n"
        async for row in c.bulk.rows(op):
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(
                [row.row_index, row.outcome or "PENDING", row.device_id or "", row.message or ""]
            )
            yield out.getvalue().encode()

    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="job-{op.id}-report.csv"',
    }
    return StreamingResponse(body(), media_type="text/csv", headers=headers)
