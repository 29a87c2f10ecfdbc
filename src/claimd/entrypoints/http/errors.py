"""Error bodies. ThingsBoard's API gets ThingsBoard's ``{"status", "message", "errorCode", "timestamp"}``;
the ownership API (``/v1/…``) gets RFC 9457 problem details that also carry nRF Cloud's ``code`` and
``message``; The Things Stack's API (``/api/v3/…``) gets TTS's ``{"code", "message", "details"}``."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from claimd.domain.errors import (
    AuthenticationFailed,
    ClaimdError,
    Conflict,
    Gone,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)

log = logging.getLogger("claimd.http")

# ThingsBoard's ThingsboardErrorCode values.
GENERAL, AUTHENTICATION, JWT_EXPIRED, PERMISSION_DENIED, BAD_REQUEST_PARAMS, ITEM_NOT_FOUND, TOO_MANY_REQUESTS = (
    2,
    10,
    11,
    20,
    31,
    32,
    33,
)
_BY_STATUS = {
    400: BAD_REQUEST_PARAMS,
    401: AUTHENTICATION,
    403: PERMISSION_DENIED,
    404: ITEM_NOT_FOUND,
    429: TOO_MANY_REQUESTS,
}


PROBLEM_PATHS = ("/v1/",)
_PROBLEM_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    410: "GONE",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
}


def wants_problem(request: Request) -> bool:
    return request.url.path.startswith(PROBLEM_PATHS)


TTS_PATHS = ("/api/v3/",)
# HTTP status -> gRPC code, as TTS's pkg/errors/http.go maps them back.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 10, 413: 3, 415: 3, 429: 8, 500: 13, 501: 12, 503: 14}
_GRPC_NAMES = {
    3: "invalid_argument",
    16: "unauthenticated",
    7: "permission_denied",
    5: "not_found",
    12: "unimplemented",
    10: "aborted",
    8: "resource_exhausted",
    13: "internal",
    14: "unavailable",
}
TTS_NAMESPACE = "pkg/claimd"


def tts_error_details(status: int, message: str, code: str | None) -> dict[str, Any]:
    """TTS's ``ErrorDetails``: the item of an error's ``details`` and of a batch's ``failed`` map."""
    grpc = _GRPC_CODES.get(status, 2)
    name = code.lower() if code else _GRPC_NAMES.get(grpc, "unknown")
    return {
        "@type": "type.googleapis.com/ttn.lorawan.v3.ErrorDetails",
        "namespace": TTS_NAMESPACE,
        "name": name,
        "message_format": message,
        "correlation_id": uuid.uuid4().hex,
        "code": grpc,
    }


def tts_response(status: int, message: str, code: str | None, headers: Mapping[str, str] | None) -> JSONResponse:
    details = tts_error_details(status, message, code)
    body = {
        "code": details["code"],
        "message": f"error:{TTS_NAMESPACE}:{details['name']} ({message})",
        "details": [details],
    }
    return JSONResponse(body, status_code=status, headers=headers)


def problem_response(
    request: Request, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    code = code or _PROBLEM_CODES.get(status, "ERROR")
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {
        "type": f"urn:claimd:problem:{code}",
        "title": title,
        "status": status,
        "detail": message,
        "instance": request.url.path,
        "code": code,
        "message": message,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def respond(
    request: Request,
    status: int,
    message: str,
    *,
    tb_code: int | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    if wants_problem(request):
        return problem_response(request, status, message, code, headers)
    if request.url.path.startswith(TTS_PATHS):
        return tts_response(status, message, code, headers)
    return error_response(status, message, tb_code, headers)


def error_response(
    status: int, message: str, code: int | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {
        "status": status,
        "message": message,
        "errorCode": code if code is not None else _BY_STATUS.get(status, GENERAL),
        "timestamp": time.time_ns() // 1_000_000,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: ClaimdError) -> tuple[int, int]:
    if isinstance(exc, AuthenticationFailed):
        return 401, JWT_EXPIRED if exc.expired else AUTHENTICATION
    if isinstance(exc, PermissionDenied):
        return 403, PERMISSION_DENIED
    if isinstance(exc, NotFound):
        return 404, ITEM_NOT_FOUND
    if isinstance(exc, TooManyRequests):
        return 429, TOO_MANY_REQUESTS
    if isinstance(exc, Gone):
        return 410, GENERAL
    if isinstance(exc, InvalidArgument):
        return 400, BAD_REQUEST_PARAMS
    return 400, GENERAL


def api_status(exc: ClaimdError) -> int:
    """The status of an error on the ownership and TTS APIs: as ThingsBoard's, but a Conflict is 409
    (ThingsBoard answers a taken name with 400)."""
    return 409 if isinstance(exc, Conflict) else status_of(exc)[0]


def problem_code(exc: ClaimdError) -> str:
    """The ``code`` the ownership API shows for an error: its own, else the one of its status."""
    return exc.code or _PROBLEM_CODES.get(api_status(exc), "ERROR")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "Invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ClaimdError)
    async def _claimd_error(request: Request, exc: ClaimdError) -> JSONResponse:
        status, tb_code = status_of(exc)
        if wants_problem(request) or request.url.path.startswith(TTS_PATHS):
            status = api_status(exc)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) else None
        return respond(request, status, exc.message, tb_code=tb_code, code=exc.code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(request, 400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Requested item wasn't found!" if exc.status_code == 404 else str(exc.detail)
        return respond(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The route template, not the path: a device API path carries the device's access token.
        route = request.scope.get("route")
        log.exception("unhandled error on %s %s", request.method, getattr(route, "path", "(no route)"))
        return respond(request, 500, "Internal server error", tb_code=GENERAL)
