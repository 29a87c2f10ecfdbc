"""The HTTP door's body limit (an ASGI middleware, driven in process), the routes it lets take
uploads, and the rules of the connection cap and the open-file limit. The running server's limits
are tested end to end in tests/e2e/test_http_limits.py."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from claimd.entrypoints.http import errors
from claimd.entrypoints.http.limits import UPLOAD, BodyLimit
from claimd.entrypoints.http.server import RESERVED_FILES, connection_cap, raise_file_limit

LIMIT, UPLOAD_LIMIT = 1024, 8192


def make_app() -> tuple[FastAPI, list[int]]:
    """An app with a JSON route, an upload route and a route that never reads its body; ``read``
    records how many bytes the upload route got."""
    app = FastAPI()
    errors.install(app)
    app.add_middleware(BodyLimit, max_body=LIMIT, max_upload=UPLOAD_LIMIT, openapi=app.openapi)
    read: list[int] = []

    @app.post("/api/echo")
    async def echo(body: dict) -> dict:
        return {"keys": len(body)}

    @app.post("/v1/files/bulk", openapi_extra=UPLOAD)
    async def upload(request: Request) -> dict:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            read.append(size)
        return {"size": size}

    @app.post("/api/v3/ignore")
    async def ignore() -> dict:
        return {}

    return app, read


async def chunks(size: int, piece: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, size, piece):
        yield b" " * min(piece, size - start)


@pytest.fixture
async def client_and_read() -> AsyncIterator[tuple[httpx.AsyncClient, list[int]]]:
    app, read = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, read


async def test_a_content_length_over_the_limit_is_refused_before_the_route_runs(client_and_read) -> None:
    client, _ = client_and_read
    response = await client.post("/api/echo", content=b"{" + b" " * LIMIT + b"}")
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json()["message"] == f"The request body is larger than {LIMIT} bytes (CLAIMD_HTTP_MAX_BODY_BYTES)"
    assert (await client.post("/api/echo", json={"a": 1})).json() == {"keys": 1}


async def test_a_chunked_body_is_cut_at_the_limit_in_the_route_s_dialect(client_and_read) -> None:
    client, _ = client_and_read
    response = await client.post("/api/echo", content=chunks(LIMIT * 4))
    assert response.status_code == 413
    assert response.json()["status"] == 413 and response.headers["connection"] == "close"


async def test_upload_routes_have_their_own_limit_and_stop_reading_at_it(client_and_read) -> None:
    client, read = client_and_read
    assert (await client.post("/v1/files/bulk", content=chunks(LIMIT * 4))).json() == {"size": LIMIT * 4}
    read.clear()
    response = await client.post("/v1/files/bulk", content=chunks(UPLOAD_LIMIT * 4))
    assert response.status_code == 413
    assert response.json()["code"] == "TOO_LARGE"  # the ownership API's problem details
    assert max(read) <= UPLOAD_LIMIT
    response = await client.post("/v1/files/bulk", content=b"x" * (UPLOAD_LIMIT + 1))
    assert response.status_code == 413 and response.json()["status"] == 413


async def test_a_body_the_route_does_not_read_closes_the_connection(client_and_read) -> None:
    client, _ = client_and_read
    response = await client.post("/api/v3/ignore", content=chunks(LIMIT // 2))
    assert response.status_code == 200 and response.headers["connection"] == "close"
    assert "connection" not in (await client.post("/api/v3/ignore")).headers


def test_the_connection_cap_stays_below_the_file_limit() -> None:
    assert connection_cap(10_000, 1_048_576) == 10_000
    assert connection_cap(10_000, 4096) == 4096 - RESERVED_FILES
    assert connection_cap(10_000, 1024) == 512
    assert connection_cap(10, 1024) == 10


def test_the_soft_file_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 2:
        pytest.skip("no finite hard limit to raise to")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard - 1), hard))
    try:
        assert raise_file_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_bulk_upload_routes_carry_the_upload_mark() -> None:
    from claimd.config import Settings
    from claimd.entrypoints.http.app import create_app
    from claimd.entrypoints.http.limits import UPLOAD_KEY

    paths = create_app(Settings()).openapi()["paths"]
    marked = {path for path, item in paths.items() for operation in item.values() if operation.get(UPLOAD_KEY)}
    assert marked >= {
        "/v1/claimed-devices/bulk",
        "/v1/device-identities/bulk",
        "/v1/lorawan-claims/bulk",
        "/v1/lorawan-devices/import",
    }
    assert not marked & {"/api/auth/login", "/v1/claimed-devices", "/api/v3/edcs/claim"}


async def test_a_route_s_own_smaller_body_cap_is_also_a_413() -> None:
    from starlette.exceptions import HTTPException

    from claimd.entrypoints.http.wire import limited_body

    async def receive() -> dict:
        return {"type": "http.request", "body": b"x" * 600, "more_body": True}

    request = Request({"type": "http", "method": "POST", "path": "/v1/x", "headers": []}, receive)
    with pytest.raises(HTTPException) as raised:
        await limited_body(request, 1000)
    assert raised.value.status_code == 413 and "1000" in raised.value.detail
