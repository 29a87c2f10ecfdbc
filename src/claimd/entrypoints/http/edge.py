"""The input rule of claimd.domain.inputs applied once, at the HTTP edge, to every request.

Path and query text with a NUL or a lone surrogate, or longer than a text may be, is answered 400
before any route runs. JSON bodies are scanned as they are received (depth, NUL, lone-surrogate
escapes) so that no parser recurses into 5,000 nested arrays and no NUL reaches PostgreSQL; a body
found bad raises a 400 out of the route's own read, which the route's error dialect then answers.
Doing it here rather than in each route means a new route cannot forget it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimd.domain.inputs import MAX_TEXT_LENGTH, JsonScan, text_problem
from claimd.entrypoints.http.errors import respond

#: Bodies of these media types are not JSON and are not scanned: binary CBOR holds zero bytes and
#: brackets as data, and bulk CSV cells are checked row by row. Any other body may be read as JSON
#: (some routes parse JSON whatever the header says), so it is scanned.
NOT_JSON = (
    "application/cbor",
    "text/csv",
    "application/csv",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
)


def url_problem(scope: Scope) -> str | None:
    """Why the path or query of a request cannot be taken as text, or ``None``."""
    texts = [("The request path", scope["path"])]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        texts += [("A query parameter name", name), (f"The query parameter '{name[:64]}'", value)]
    for what, value in texts:
        problem = text_problem(value, MAX_TEXT_LENGTH)
        if problem is not None:
            return f"{what} {problem}"
    return None


def is_json_like(scope: Scope) -> bool:
    """Whether the body may be parsed as JSON: routes that take JSON parse it whatever the header says."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.decode("latin-1").split(";")[0].strip().lower()
            return media not in NOT_JSON
    return True


class InputRule:
    """ASGI middleware: :func:`url_problem` for every request, :class:`JsonScan` for JSON bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem is not None:
            await respond(Request(scope), 400, problem)(scope, receive, send)
            return
        if is_json_like(scope):
            receive = scanned(receive)
        await self.app(scope, receive, send)


def scanned(receive: Receive) -> Receive:
    """``receive`` whose body chunks pass through a :class:`JsonScan`; a bad body raises a 400
    (FastAPI's HTTPException, which FastAPI's own body reading passes on unchanged)."""
    scan = JsonScan()

    async def receive_scanned() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            problem = scan.feed(message.get("body", b""), final=not message.get("more_body", False))
            if problem is not None:
                raise HTTPException(400, f"The JSON body {problem}")
        return message

    return receive_scanned
