"""The request-body limit of the HTTP door.

Invariants:
- A body larger than its route's limit is never read whole: a ``Content-Length`` over the limit is
  answered 413 before the app runs (no authentication, no parsing), and a body of unknown length
  (chunked) is counted as the app reads it and cut at the limit with 413.
- Each 413 closes the connection (the rest of the body is not waited for) and speaks the error dialect
  of the route's API surface (:func:`claimd.entrypoints.http.errors.respond`).
- The limit is ``http_max_body_bytes``, except on the routes marked with :data:`UPLOAD` (bulk files,
  read as streams): ``http_max_upload_bytes``. The mark is on the route and shows in the OpenAPI
  document, which is where the marked operations are found (the public, flattened view of every
  router), so a new upload route needs no list kept here.

FastAPI's own ``max_body_size`` is not used: it lets the route run before it refuses a declared
length, answers in plain text, and keeps the connection open to drain the refused body.
- A response that starts before the request's body was read to its end closes the connection, so an
  unread body is never drained on a kept-alive connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimd.entrypoints.http import errors

UPLOAD_KEY = "x-claimd-upload"
#: Merge into a route's ``openapi_extra`` to give it the upload limit (also shown in the OpenAPI).
UPLOAD: dict[str, Any] = {UPLOAD_KEY: True}
_CLOSE = (b"connection", b"close")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException, so that
    FastAPI's body parsing passes it on (it turns other errors into 400) and the app's handler answers
    it in the route's dialect."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            413, f"The request body is larger than {limit} bytes ({setting})", headers={"Connection": "close"}
        )


class BodyLimit:
    """ASGI middleware enforcing the body limits (see the module's invariants)."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload
        self._openapi = openapi  # called on first use, once every router is included
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    def _find_uploads(self) -> list[tuple[str, re.Pattern[str]]]:
        if self._uploads is None:
            self._uploads = [
                (method.upper(), compile_path(path)[0])
                for path, item in self._openapi().get("paths", {}).items()
                for method, operation in item.items()
                if isinstance(operation, dict) and operation.get(UPLOAD_KEY)
            ]
        return self._uploads

    def limit_of(self, scope: Scope) -> tuple[int, str]:
        """The body limit of the operation ``scope`` asks for, and the setting that gives it."""
        if any(method == scope["method"] and pattern.match(scope["path"]) for method, pattern in self._find_uploads()):
            return self.max_upload, "CLAIMD_HTTP_MAX_UPLOAD_BYTES"
        return self.max_body, "CLAIMD_HTTP_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                self._find_uploads()  # the OpenAPI document is built at start, not in the first request
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if (length is None and "transfer-encoding" not in headers) or length == "0":
            await self.app(scope, receive, send)  # no body
            return
        limit, setting = self.limit_of(scope)
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send, BodyTooLarge(limit, setting))
            return
        received, complete, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, complete
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
                complete = not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not complete and _CLOSE not in message.get("headers", []):
                    message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, counting_receive, closing_send)
        except BodyTooLarge as exc:
            if not started:  # raised where no handler answered it; once started, the server drops the connection
                await self._refuse(scope, receive, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
        response = errors.respond(Request(scope), exc.status_code, exc.detail, headers=exc.headers)
        await response(scope, receive, send)
