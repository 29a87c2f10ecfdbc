"""The HTTP device API: ``POST /api/v1/{accessToken}/claim`` opens the device's claim window."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from claimd.domain.claiming import parse_device_claim
from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Door
from claimd.entrypoints.http.responses import ThingsBoardError, thingsboard
from claimd.entrypoints.http.security import ContainerDep, client_address
from claimd.services.claiming import WindowResult
from claimd.services.common import Origin

router = APIRouter(tags=["device API"])

WINDOW_HEADER = "X-Claimd-Claim-Window"

_DEVICE_CLAIM_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"secretKey": {"type": "string"}, "durationMs": {"type": "integer"}},
                },
                "example": {"secretKey": "secret", "durationMs": 60000},
            }
        },
    },
    "responses": {
        "200": {"description": f"accepted (empty body); the {WINDOW_HEADER} header says what became of the window"},
        "400": {"description": "malformed JSON or field types"},
        "401": {"description": "unknown access token (empty body)"},
    },
}


@router.post(
    "/api/v1/{accessToken}/claim",
    openapi_extra=_DEVICE_CLAIM_BODY,
    response_class=Response,
    responses=thingsboard(
        {
            200: {
                "headers": {
                    WINDOW_HEADER: {
                        "required": True,
                        "schema": {"type": "string", "enum": [r.value for r in WindowResult]},
                    }
                }
            },
            400: {"model": ThingsBoardError},
            401: {"description": "Empty body"},
        }
    ),
    summary="A device opens its claim window with its secret key and a duration",
)
async def device_claim(accessToken: str, request: Request, c: ContainerDep) -> Response:
    try:
        device = await c.devices.by_access_token(accessToken)
    except AuthenticationFailed:
        return Response(status_code=401)  # as ThingsBoard: before the payload is read, and with no body
    message = parse_device_claim(await request.body())  # InvalidPayload → 400 with the reason
    result = await c.claims.open_window(device, message, Origin(Door.HTTP_DEVICE, client_address(request)), fresh=True)
    return Response(status_code=200, headers={WINDOW_HEADER: result.value})
