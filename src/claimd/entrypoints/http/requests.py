"""Request ids and the access log of the HTTP door: one pure ASGI middleware, outermost.

Invariants:
- Every HTTP request has an id: the client's ``X-Request-Id`` when it is 1 to 64 characters of
  ``[A-Za-z0-9._-]``, otherwise a new one (16 hex digits). It is in :data:`claimd.logs.request_id`
  while the request runs, so every record logged for it carries it, and it is in the ``X-Request-Id``
  header of every response, errors included (413, 500: the middleware wraps even the server-error
  handler).
- Every HTTP request ends with one INFO record on ``claimd.access``: method, path, status, duration in
  ms, response body bytes, client address, request id, user agent.
- No secret is logged. The path is the matched route's template (``/api/v1/{accessToken}/claim``,
  never the token); a request no route matched (404, or refused before routing: 400 on bad input,
  413) logs its path with everything after ``/api/v1/`` replaced by ``***``. Query strings (activation
  and reset tokens) and bodies are never logged.
- The cost is a few microseconds a request (no Request object, no BaseHTTPMiddleware), and nothing
  but the header when the access log is off (log level above INFO).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimd.logs import request_id

access_log = logging.getLogger("claimd.access")

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DEVICE_API = "/api/v1/"
MAX_LOGGED_PATH = 200
MAX_LOGGED_AGENT = 200
_IN_MESSAGE = ("method", "path", "status")


def new_request_id() -> str:
    return os.urandom(8).hex()


def incoming_id(value: bytes) -> str | None:
    """The client's request id if it is sane (see the module's invariants), else None."""
    text = value.decode("latin-1")
    return text if _SANE.fullmatch(text) else None


def logged_path(scope: Scope) -> str:
    """The path the access log shows: the route's template when a route matched, else the path
    with the device API's token (and all after it) replaced by ``***``, cut at 200 characters."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    return redacted_path(scope.get("path", ""))


def redacted_path(path: str) -> str:
    at = path.lower().find(_DEVICE_API)
    if at >= 0:
        path = path[: at + len(_DEVICE_API)] + "***"
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


class RequestLog:
    """ASGI middleware: request ids and the access log (see the module's invariants)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = agent = None
        for name, value in scope["headers"]:
            if name == HEADER and rid is None:
                rid = incoming_id(value)
            elif name == b"user-agent":
                agent = value
        if rid is None:
            rid = new_request_id()
        token = request_id.set(rid)
        header = (HEADER, rid.encode())
        status = body_bytes = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, body_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                # a new message: the app's header list may be shared (a response object sent twice)
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body":
                body_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # Logged, then passed on: the server logs the error itself, with this request's id (its
            # task's context keeps it).
            if access_log.isEnabledFor(logging.INFO):
                _log_access(scope, status or 500, started, body_bytes, rid, agent)
            raise
        if access_log.isEnabledFor(logging.INFO):
            _log_access(scope, status, started, body_bytes, rid, agent)
        request_id.reset(token)


def _log_access(scope: Scope, status: int, started: float, body_bytes: int, rid: str, agent: bytes | None) -> None:
    method, path = scope["method"], logged_path(scope)
    client = scope.get("client")
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "bytes": body_bytes,
        "client": client[0] if client else None,
        "request_id": rid,
        "user_agent": agent[:MAX_LOGGED_AGENT].decode("latin-1") if agent is not None else None,
        "_in_message": _IN_MESSAGE,
    }
    # The record made directly: logger.info would also look up its caller's frame, always this line.
    access_log.handle(
        access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "%s %s %d", (method, path, status), None, extra=fields
        )
    )
