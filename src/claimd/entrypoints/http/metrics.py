"""``GET /metrics`` (Prometheus's text format) and the middleware that times every HTTP request.

A request is counted under its route's TEMPLATE (``/api/v1/{accessToken}/claim``), never its path,
which can carry an access token or a device name; a request that matched no route is counted as
``unmatched``, and a method outside the standard ones as ``other``, so no client can grow the series.

With ``CLAIMD_METRICS_TOKEN`` set, /metrics wants ``Authorization: Bearer <token>`` (401 otherwise);
unset, it is open: keep the HTTP port behind a firewall, or set the token.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimd.adapters.metrics import CONTENT_TYPE
from claimd.entrypoints.http import errors
from claimd.entrypoints.http.security import ContainerDep

router = APIRouter()

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, c: ContainerDep) -> Response:
    token = c.settings.metrics_token
    if token is not None:
        scheme, _, presented = request.headers.get("authorization", "").strip().partition(" ")
        # digests of equal length, compared in constant time: neither the token nor its length leaks
        presented_digest = hashlib.sha256(presented.strip().encode()).digest()
        expected_digest = hashlib.sha256(token.get_secret_value().encode()).digest()
        if not (hmac.compare_digest(presented_digest, expected_digest) and scheme.lower() == "bearer"):
            return errors.respond(
                request,
                401,
                "GET /metrics needs Authorization: Bearer <CLAIMD_METRICS_TOKEN>",
                headers={"WWW-Authenticate": 'Bearer realm="claimd metrics"'},
            )
    return Response(c.metrics.exposition(), media_type=CONTENT_TYPE)


class RequestTimer:
    """Pure ASGI: times each HTTP request from its arrival to its last byte sent, and counts it by
    method, route template and status class (a request that raised counts as 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            container = getattr(getattr(scope.get("app"), "state", None), "container", None)
            if container is not None:
                route = scope.get("route")  # set by the router on the same scope, once it matched
                method = scope["method"]
                container.metrics.http_request(
                    method if method in METHODS else "other",
                    getattr(route, "path", None) or UNMATCHED,
                    status,
                    time.perf_counter() - start,
                )
