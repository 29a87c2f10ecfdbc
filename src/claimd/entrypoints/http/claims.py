"""Customer claim and reclaim: ``POST`` / ``DELETE /api/customer/device/{deviceName}/claim``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from claimd.domain.claiming import SECRET_KEY_FIELD, ClaimResponse, parse_json_payload
from claimd.domain.errors import InvalidArgument, InvalidPayload
from claimd.entrypoints.http.schemas import device_json
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep

router = APIRouter(tags=["claiming"])

_CLAIM_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {SECRET_KEY_FIELD: {"type": "string"}}},
                                         "example": {SECRET_KEY_FIELD: "secret"}}},
    },
    "responses": {
        "200": {"description": '{"device": {…}, "response": "SUCCESS"}'},
        "400": {"description": 'the JSON string "FAILURE" (no valid key) or "CLAIMED" (already owned)'},
    },
}


def claim_secret(body: bytes) -> str:
    """The ``secretKey`` of a claim request. No body, ``{}`` and ``{"secretKey": null}`` mean ``""``
    (ThingsBoard answers a missing body with a 500); scalars are read as text, as Jackson does."""
    try:
        obj = parse_json_payload(body)
    except InvalidPayload as exc:
        raise InvalidArgument(f"Invalid request body: {exc.message}") from exc
    if obj is None:
        return ""
    if not isinstance(obj, dict):
        raise InvalidArgument("Invalid request body: expected a JSON object such as {\"secretKey\": \"…\"}")
    value = obj.get(SECRET_KEY_FIELD)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value) if isinstance(value, str) else repr(value)
    raise InvalidArgument("Invalid request body: secretKey must be a string")


@router.post("/api/customer/device/{deviceName:path}/claim", openapi_extra=_CLAIM_BODY,
             summary="Claim a device by name with its secret key (customer users)")
async def claim_device(deviceName: str, request: Request, principal: PrincipalDep, c: ContainerDep,  # noqa: N803
                       origin: OriginDep) -> Response:
    secret = claim_secret(await request.body())
    result = await c.claims.claim(principal, deviceName, secret, origin)
    if result.response is ClaimResponse.SUCCESS:
        return JSONResponse({"device": device_json(result.device), "response": result.response.value})
    return JSONResponse(result.response.value, status_code=400)


@router.delete("/api/customer/device/{deviceName:path}/claim",
               summary="Reclaim (release) a device: its owner's users, or any tenant admin")
async def reclaim_device(deviceName: str, principal: PrincipalDep, c: ContainerDep,  # noqa: N803
                         origin: OriginDep) -> Response:
    await c.claims.reclaim(principal, deviceName, origin)
    return Response(status_code=200)
