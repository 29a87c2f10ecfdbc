"""Bulk operations over HTTP: CSV uploads answered with ``202 {"bulkOpsRequestId"}``, and the job's
status, per-row results and error summary, all served by claimd itself.

The uploaded file is never served back: its rows hold claim tokens and codes (kept sealed, and
dropped once worked). ``uploadedDataUrl`` stays in the job of nRF Cloud's endpoints, whose clients
read it as a required string, and its URL answers 410 Gone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from claimd.domain.bulk import BulkEndpoint, BulkOp
from claimd.domain.errors import InvalidArgument
from claimd.entrypoints.http.limits import UPLOAD
from claimd.entrypoints.http.responses import (
    BULK_ACCEPTED,
    PROBLEM_BODY,
    BulkErrors,
    BulkOpList,
    BulkRowResult,
    problem,
)
from claimd.entrypoints.http.responses import (
    BulkOp as BulkOpOut,
)
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep
from claimd.entrypoints.http.uploads import submit_bulk
from claimd.entrypoints.http.wire import iso_ms
from claimd.services.device_import import RESULT_FIELDS

router = APIRouter(tags=["bulk operations"])
_NO_STORE = {"Cache-Control": "no-store"}  # an import's result file holds secrets
_CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}, **UPLOAD}
_ACCEPTED = problem({202: BULK_ACCEPTED})


def op_json(op: BulkOp, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/v1/bulk-ops-requests/{op.id}"
    body: dict[str, Any] = {
        "bulkOpsRequestId": op.id,
        "status": op.status.value,
        "outcome": op.outcome,
        "endpoint": op.endpoint.value,
        "requestedAt": iso_ms(op.requested_at),
        "completedAt": iso_ms(op.completed_at),
        "total": op.total,
        "succeeded": op.succeeded,
        "failed": op.failed,
        "uploadedDataUrl": f"{url}/upload.csv",
        "resultDataUrl": f"{url}/results.json",
    }
    if op.endpoint is BulkEndpoint.CLAIM_LORAWAN_DEVICES:  # claimd's own: no nRF Cloud client to keep
        del body["uploadedDataUrl"]
        body["applicationId"] = op.application_id
    if op.endpoint is BulkEndpoint.IMPORT_DEVICES:  # claimd's own; its result file can be taken once
        del body["uploadedDataUrl"]
        body["resultsTaken"] = op.results_taken
    if op.failed:
        body["errorSummaryUrl"] = f"{url}/errors.json"
    return body


def _base_url(request: Request) -> str:
    public = request.app.state.container.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


@router.post(
    "/v1/claimed-devices/bulk",
    openapi_extra=_CSV_BODY,
    status_code=202,
    responses=_ACCEPTED,
    summary='Claim many devices: CSV rows `token[,"tag1,tag2"]`, no header; answers a bulk operation id',
)
async def bulk_claim(request: Request, principal: PrincipalDep, c: ContainerDep) -> Response:
    return await submit_bulk(request, principal, c, BulkEndpoint.CLAIM_DEVICE_OWNERSHIP)


@router.post(
    "/v1/device-identities/bulk",
    openapi_extra=_CSV_BODY,
    status_code=202,
    responses=_ACCEPTED,
    summary='Register many device identities: CSV rows `id,publicKey[,deviceType,firmwareId,imei,"tags",name]`',
)
async def bulk_register(request: Request, principal: PrincipalDep, c: ContainerDep) -> Response:
    return await submit_bulk(request, principal, c, BulkEndpoint.REGISTER_PUBLIC_KEYS)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "description": "a header line, then one device per line"}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON object per line"}},
        },
    },
    **UPLOAD,
}


@router.post(
    "/v1/devices/bulk",
    openapi_extra=_IMPORT_BODY,
    status_code=202,
    responses=_ACCEPTED,
    summary="Import devices (CSV with a header, or JSON lines; see docs/provisioning.md); answers a bulk operation id",
)
async def import_devices(
    request: Request,
    principal: PrincipalDep,
    c: ContainerDep,
    claim_key_length: str | None = None,
    claim_key_alphabet: str | None = None,
) -> Response:
    c.imports.check_importer(principal)  # before reading a large body
    wanted = c.imports.request(
        request.headers.get("content-type", ""), claim_key_length, claim_key_alphabet, _base_url(request)
    )
    op, _ = await c.bulk.submit(
        principal,
        BulkEndpoint.IMPORT_DEVICES,
        request.stream(),
        request.headers.get("idempotency-key"),
        options=wanted.options(),
    )
    return JSONResponse(
        {"bulkOpsRequestId": op.id}, status_code=202, headers={"Location": f"/v1/bulk-ops-requests/{op.id}"}
    )


@router.get(
    "/v1/bulk-ops-requests",
    responses=problem({200: {"model": BulkOpList}}),
    summary="Your recent bulk operations (newest first)",
)
async def list_ops(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    found = await c.bulk.list(principal)
    return {"items": [op_json(op, _base_url(request)) for op in found], "total": len(found)}


@router.get(
    "/v1/bulk-ops-requests/{opId}",
    responses=problem({200: {"model": BulkOpOut}}),
    summary="A bulk operation: status, counters and file URLs",
)
async def get_op(opId: str, request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return op_json(await c.bulk.get(principal, opId), _base_url(request))


@router.get(
    "/v1/bulk-ops-requests/{opId}/upload.csv",
    status_code=410,
    response_class=Response,
    responses=problem({410: PROBLEM_BODY}),
    summary="Gone: an upload is never served back (its rows hold claim tokens and codes)",
)
async def uploaded(opId: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.bulk.get(principal, opId)  # 404 for a job the caller cannot see
    raise HTTPException(
        410,
        "Uploads are not served back: their rows hold claim tokens and codes, kept sealed "
        "and dropped once worked. See results.json and errors.json for each row's outcome",
    )


@router.get(
    "/v1/bulk-ops-requests/{opId}/results.json",
    responses=problem(
        {
            200: {
                "model": list[BulkRowResult],
                "content": {
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "?format=csv: a header row `row,status,deviceId,message`, "
                            "then one row per row (a device import's: its result fields)",
                        }
                    },
                    "application/x-ndjson": {
                        "schema": {
                            "type": "string",
                            "description": "A device import's result file: one JSON object a row with row, "
                            "name, deviceId, accessToken, claimKey, claimCode, claimLink, qrText, error",
                        }
                    },
                },
            },
            409: {**PROBLEM_BODY, "description": "A device import still running (BULK_NOT_FINISHED)"},
            410: {**PROBLEM_BODY, "description": "A device import's result file, downloaded already"},
        }
    ),
    summary="One result per row: row (from 1, the first data row), status OK / ERROR / PENDING, deviceId, "
    "message. A device import's: JSON lines with the rows' secrets, downloaded once (then 410 Gone)",
)
async def results(opId: str, principal: PrincipalDep, c: ContainerDep, format: str = "json") -> Response:
    op = await c.bulk.get(principal, opId)
    if format not in ("json", "csv"):
        raise InvalidArgument("format is json or csv")
    if op.endpoint is BulkEndpoint.IMPORT_DEVICES:
        return _import_results(await c.bulk.take_results(principal, opId), format)

    async def body() -> AsyncIterator[bytes]:
        first = True
        if format == "csv":
            yield b"row,status,deviceId,message\n"
        else:
            yield b"["
        async for row in c.bulk.rows(op):
            item = {
                "row": row.row_index,
                "status": row.outcome or "PENDING",
                "deviceId": row.device_id,
                "message": row.message,
            }
            if format == "csv":
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerow(item.values())
                yield out.getvalue().encode()
            else:
                yield (b"" if first else b",") + json.dumps(item).encode()
            first = False
        if format == "json":
            yield b"]"

    return StreamingResponse(body(), media_type="text/csv" if format == "csv" else "application/json")


def _import_results(lines: AsyncIterator[str], format: str) -> Response:
    """An import's result file (JSON lines as stored, or CSV with a header), streamed."""

    async def as_csv() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(RESULT_FIELDS)
        async for text in lines:
            for line in text.splitlines():
                item = json.loads(line)
                writer.writerow("" if item[f] is None else item[f] for f in RESULT_FIELDS)
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()

    async def as_json() -> AsyncIterator[bytes]:
        async for text in lines:
            yield text.encode()

    if format == "csv":
        return StreamingResponse(as_csv(), media_type="text/csv", headers=_NO_STORE)
    return StreamingResponse(as_json(), media_type="application/x-ndjson", headers=_NO_STORE)


@router.get(
    "/v1/bulk-ops-requests/{opId}/errors.json",
    responses=problem({200: {"model": BulkErrors}}),
    summary='nRF Cloud\'s error summary: {"errors": ["[row]: message", ...]}, rows counted from 1',
)
async def errors(opId: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    op = await c.bulk.get(principal, opId)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"errors": ['
        first = True
        async for row in c.bulk.rows(op, errors_only=True):
            yield (b"" if first else b", ") + json.dumps(f"[{row.row_index}]: {row.message}").encode()
            first = False
        yield b"]}"

    return StreamingResponse(body(), media_type="application/json")
