"""claimd's tenant API for LoRaWAN identities (``/v1/lorawan-devices…``, ``/v1/lorawan-claims/bulk``):
register a device (TTS's ``EndDevice`` JSON) or a file of them, set its claim authentication code,
claim many as a bulk job. TTS's JSON names; errors are problem details.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from claimd.domain.bulk import BulkEndpoint
from claimd.domain.errors import InvalidArgument
from claimd.domain.lorawan import LorawanIdentity
from claimd.domain.model import Device
from claimd.entrypoints.http.bodies import read_code, read_end_device
from claimd.entrypoints.http.errors import problem_code
from claimd.entrypoints.http.limits import UPLOAD
from claimd.entrypoints.http.lorawan_import import import_rows
from claimd.entrypoints.http.responses import BULK_ACCEPTED, LorawanDevice, LorawanDeviceWithCode, problem
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep
from claimd.entrypoints.http.uploads import chunks as upload_chunks
from claimd.entrypoints.http.uploads import read_upload, submit_bulk
from claimd.entrypoints.http.wire import iso_ms, profile_json
from claimd.services.lorawan import ImportResult, Provisioned

router = APIRouter(tags=["LoRaWAN (The Things Stack compatible)"])


def identity_json(device: Device, identity: LorawanIdentity) -> dict[str, Any]:
    """A tenant's view of a LoRaWAN device: never its code."""
    return {
        "id": str(device.id),
        "name": device.name,
        "ids": {"dev_eui": identity.dev_eui, "join_eui": identity.join_eui},
        "claim_authentication_code": {
            "valid_from": iso_ms(identity.valid_from),
            "valid_to": iso_ms(identity.valid_to),
            "spent_at": iso_ms(identity.code_spent_at),
        },
        "lora_alliance_profile_ids": profile_json(identity),
        "serial_number": identity.serial,
        "owner_id": str(device.customer_id) if device.customer_id else None,
        "claimed_at": iso_ms(device.claimed_at),
        "blocked": device.is_blocked,
        "created_at": iso_ms(identity.created_time),
    }


def provisioned_json(p: Provisioned) -> dict[str, Any]:
    """The answer to the request that set a code: the only time the code (and its QR text) is shown."""
    body = identity_json(p.device, p.identity)
    body["claim_authentication_code"]["value"] = p.code
    body["qr_code"] = p.qr_text
    return body


@router.post(
    "/v1/lorawan-devices",
    status_code=201,
    responses=problem({201: {"model": LorawanDeviceWithCode}}),
    summary="Register a LoRaWAN device (TTS EndDevice JSON); the answer shows its code and QR text once",
)
async def provision(request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    draft = await read_end_device(request)
    return provisioned_json(await c.lorawan.provision(principal, draft))


@router.get(
    "/v1/lorawan-devices/{dev_eui}",
    responses=problem({200: {"model": LorawanDevice}}),
    summary="A LoRaWAN device of yours (never its code)",
)
async def get_device(dev_eui: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return identity_json(*await c.lorawan.get(principal, dev_eui))


@router.post(
    "/v1/lorawan-devices/{dev_eui}/claim-code",
    responses=problem({200: {"model": LorawanDeviceWithCode}}),
    summary="Set a new claim authentication code {value?, valid_from?, valid_to?} (generated when absent)",
)
async def set_code(dev_eui: str, request: Request, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    value, valid_from, valid_to = await read_code(request)
    return provisioned_json(await c.lorawan.set_code(principal, dev_eui, value, valid_from, valid_to))


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}},
    },
    **UPLOAD,
}
_IMPORT_CSV = (
    "row",
    "status",
    "id",
    "name",
    "dev_eui",
    "join_eui",
    "claim_authentication_code",
    "qr_code",
    "code",
    "message",
)


def _import_line(row: dict[str, Any], format: str) -> bytes:
    if format == "ndjson":
        return (json.dumps(row) + "\n").encode()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([row.get(k, "") for k in _IMPORT_CSV])
    return out.getvalue().encode()


def _import_result(item: ImportResult) -> dict[str, Any]:
    if item.provisioned is not None:
        p = item.provisioned
        return {
            "row": item.index,
            "status": "OK",
            "id": str(p.device.id),
            "name": p.device.name,
            "dev_eui": p.identity.dev_eui,
            "join_eui": p.identity.join_eui,
            "claim_authentication_code": p.code,
            "qr_code": p.qr_text,
        }
    assert item.error is not None
    return {"row": item.index, "status": "ERROR", "code": problem_code(item.error), "message": item.error.message}


@router.post(
    "/v1/lorawan-devices/import",
    openapi_extra=_IMPORT_BODY,
    response_class=Response,
    responses=problem(
        {
            200: {
                "description": "One result per device, streamed",
                "content": {
                    "application/x-ndjson": {
                        "schema": {
                            "type": "string",
                            "description": (
                                'One JSON object per line: {"row", "status": "OK", "id", "name", "dev_eui", "join_eui", '
                                '"claim_authentication_code", "qr_code"} or {"row", "status": "ERROR", "code", "message"}; '
                                'the last line {"total", "succeeded", "failed"}'
                            ),
                        }
                    },
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "?format=csv: a header row, then one row per device",
                        }
                    },
                },
            }
        }
    ),
    summary="Register the LoRaWAN devices of a CSV (TTS columns + claim_authentication_code, valid_from, "
    "valid_to, serial_number) or JSON-lines file; answers one result per device (rows counted "
    "from 1), with each generated code and QR text shown this once",
)
async def import_devices(
    request: Request, principal: PrincipalDep, c: ContainerDep, format: str = "ndjson"
) -> Response:
    if format not in ("ndjson", "csv"):
        raise InvalidArgument("format is ndjson or csv")
    c.lorawan.check_importer(principal)  # before a large body is read
    # The whole upload first (see uploads.py: streaming an answer while reading the body hangs),
    # then a dry read of the file, so that a file error refuses it whole with 400 and no device
    # registered; only then are the devices registered and their results streamed.
    upload = await read_upload(request)
    try:
        async for _ in import_rows(upload_chunks(upload)):
            pass
    except BaseException:
        upload.close()
        raise

    async def lines() -> AsyncIterator[bytes]:
        counts = {"OK": 0, "ERROR": 0}
        try:
            if format == "csv":
                yield (",".join(_IMPORT_CSV) + "\n").encode()
            async for item in c.lorawan.import_devices(principal, import_rows(upload_chunks(upload))):
                row = _import_result(item)
                counts[row["status"]] += 1
                yield _import_line(row, format)
        finally:
            upload.close()
        if format == "ndjson":
            yield (
                json.dumps(
                    {"total": counts["OK"] + counts["ERROR"], "succeeded": counts["OK"], "failed": counts["ERROR"]}
                )
                + "\n"
            ).encode()

    return StreamingResponse(lines(), media_type="text/csv" if format == "csv" else "application/x-ndjson")


@router.post(
    "/v1/lorawan-claims/bulk",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
        **UPLOAD,
    },
    status_code=202,
    responses=problem({202: BULK_ACCEPTED}),
    summary="Claim many LoRaWAN devices as a bulk job: rows `join_eui,dev_eui,authentication_code"
    "[,application_id[,device_id]]` or a scanned QR text `qr_code[,application_id[,device_id]]`",
)
async def bulk_claim(
    request: Request, principal: PrincipalDep, c: ContainerDep, application_id: str | None = None
) -> Response:
    return await submit_bulk(request, principal, c, BulkEndpoint.CLAIM_LORAWAN_DEVICES, application_id)
