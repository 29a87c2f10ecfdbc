"""Customer claim and reclaim: ``POST`` / ``DELETE /api/customer/device/{deviceName}/claim``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from claimd.domain.claiming import SECRET_KEY_FIELD, ClaimResponse, parse_claim_request
from claimd.entrypoints.http.responses import EMPTY, ClaimRefused, ClaimResult, ThingsBoardError, thingsboard
from claimd.entrypoints.http.schemas import device_json
from claimd.entrypoints.http.security import ContainerDep, OriginDep, PrincipalDep

router = APIRouter(tags=["claiming"])

_CLAIM_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {SECRET_KEY_FIELD: {"type": "string"}}},
                "example": {SECRET_KEY_FIELD: "secret"},
            }
        },
    },
    "responses": {
        "200": {"description": '{"device": {…}, "response": "SUCCESS"}'},
        "400": {"description": 'the JSON string "FAILURE" (no valid key) or "CLAIMED" (already owned)'},
    },
}


@router.post(
    "/api/customer/device/{deviceName:path}/claim",
    openapi_extra=_CLAIM_BODY,
    responses=thingsboard({200: {"model": ClaimResult}, 400: {"model": ClaimRefused | ThingsBoardError}}),
    summary="Claim a device by name with its secret key (customer users)",
)
async def claim_device(
    deviceName: str, request: Request, principal: PrincipalDep, c: ContainerDep, origin: OriginDep
) -> Response:
    secret = parse_claim_request(await request.body())  # InvalidPayload → 400 with the reason
    result = await c.claims.claim(principal, deviceName, secret, origin)
    if result.response is ClaimResponse.SUCCESS:
        return JSONResponse({"device": device_json(result.device), "response": result.response.value})
    return JSONResponse(result.response.value, status_code=400)


@router.delete(
    "/api/customer/device/{deviceName:path}/claim",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Reclaim (release) a device: its owner's users, or any tenant admin",
)
async def reclaim_device(deviceName: str, principal: PrincipalDep, c: ContainerDep, origin: OriginDep) -> Response:
    await c.claims.reclaim(principal, deviceName, origin)
    return Response(status_code=200)
