"""The input rule at the HTTP edge (claimd.entrypoints.http.edge) around a small app of its own: which
requests it refuses, in which error dialect, and which bodies it leaves alone."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from claimd.entrypoints.http import errors
from claimd.entrypoints.http.edge import InputRule


def echo_app() -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(InputRule)

    @app.post("/{path:path}")
    async def echo(request: Request) -> dict:
        return {"length": len(await request.body())}

    return app


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=echo_app()), base_url="http://t") as c:
        yield c


CBOR_WITH_ZEROS = bytes([0x83, 0x00, 0x18, 0x64, 0x60]) + b"[" * 100  # [0, 100, ""] and 100 '[' bytes


@pytest.mark.parametrize(
    "content_type",
    ["application/cbor", "text/csv; charset=utf-8", "multipart/form-data; boundary=x", "application/octet-stream"],
)
async def test_bodies_that_are_not_json_pass_unscanned(client, content_type):
    r = await client.post("/v1/anything", content=CBOR_WITH_ZEROS, headers={"content-type": content_type})
    assert r.status_code == 200 and r.json() == {"length": len(CBOR_WITH_ZEROS)}


@pytest.mark.parametrize("content_type", [None, "application/json", "application/merge-patch+json", "text/plain"])
async def test_bodies_that_may_be_parsed_as_json_are_scanned(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = await client.post("/v1/anything", content=b"[" * 5000, headers=headers)
    assert r.status_code == 400 and "nested deeper" in r.json()["detail"]


async def test_a_body_in_chunks_is_scanned_across_them(client):
    async def chunks():
        yield b'{"a": "\\ud8'
        yield b'00"}'

    r = await client.post("/api/x", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "surrogate" in r.json()["message"], r.text


@pytest.mark.parametrize(("path", "dialect"), [("/v1/x", "detail"), ("/api/v3/x", "details"), ("/api/x", "errorCode")])
async def test_url_problems_answer_in_the_route_dialect(client, path, dialect):
    r = await client.post(path + "?q=a%00b")
    assert r.status_code == 400 and dialect in r.json(), r.text
    r = await client.post(path + "/%00")
    assert r.status_code == 400 and dialect in r.json(), r.text
