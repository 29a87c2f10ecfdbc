"""The log of a real ``claimd serve`` with CLAIMD_LOG_FORMAT=json: one JSON object a line, request ids
in answers and in the access log, and no secret (device token, claim key, password, activation
token) anywhere in it. The format itself is tested in tests/unit/test_log_format.py."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_helpers import USER_PASSWORD, World, device_message, make_world
from servers import LiveServer, start_server

from claimd.config import Settings

ACCESS_FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "bytes",
    "client",
    "user_agent",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(
        Path(tmp_path_factory.mktemp("logs")), extra_env={"CLAIMD_LOG_LEVEL": "info", "CLAIMD_LOG_FORMAT": "json"}
    )
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    w = make_world(server.base_url, server.admin_email, server.admin_password)
    try:
        yield w
    finally:
        for api in w.apis:
            api.close()


def log_entries(server: LiveServer) -> list[dict[str, Any]]:
    """The log's records. The only other lines are the command's own words to its operator (the
    start banner, notices: ``claimd …``), which are not log records."""
    entries = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)  # a line that is not one whole JSON object fails here
            assert isinstance(entry, dict), line
            entries.append(entry)
        else:
            assert re.match(r"claimd[ :]", line), f"a log line that is not JSON: {line!r}"
    return entries


def access_line(server: LiveServer, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The access line of the request ``request_id`` (written once the answer is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(server) if e["logger"] == "claimd.access" and e.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, (request_id, found)
            return found[0]
        time.sleep(0.05)


def test_a_request_id_sent_comes_back_and_is_in_the_access_line(server: LiveServer) -> None:
    rid = f"e2e-{secrets.token_hex(6)}"
    r = httpx.get(server.base_url + "/healthz", headers={"X-Request-Id": rid, "User-Agent": "log-test/1.0"})
    assert r.status_code == 200 and r.headers["x-request-id"] == rid
    line = access_line(server, rid)
    assert set(line) == ACCESS_FIELDS, line
    assert (line["level"], line["message"], line["method"], line["path"], line["status"]) == (
        "INFO",
        "GET /healthz 200",
        "GET",
        "/healthz",
        200,
    )
    assert (line["bytes"], line["client"], line["user_agent"]) == (len(r.content), "127.0.0.1", "log-test/1.0")
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 5000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_a_request_without_a_sane_id_gets_a_new_one(server: LiveServer) -> None:
    r = httpx.get(server.base_url + "/healthz", headers={"X-Request-Id": "not sane: " + "x" * 80})
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    assert access_line(server, rid)["status"] == 200


def test_a_device_claim_leaves_no_token_nor_key_in_the_log(server: LiveServer, world: World) -> None:
    device = world.device(token=f"devtoken{secrets.token_hex(8)}")
    key = f"claimkey{secrets.token_hex(8)}"
    rid = f"window-{secrets.token_hex(4)}"
    r = httpx.post(
        f"{server.base_url}/api/v1/{device.token}/claim",
        json={"secretKey": key, "durationMs": 60000},
        headers={"X-Request-Id": rid},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == rid, r.text
    claimed = world.u1.claim(device.name, {"secretKey": key})
    assert claimed.status_code == 200, claimed.text
    claim_id = claimed.headers["x-request-id"]
    unknown = device_message(server.base_url, f"devtoken{secrets.token_hex(8)}x")  # no such device: 401
    missing = httpx.get(f"{server.base_url}/api/v1/{device.token}/no-such-route")  # no route: 404

    window = access_line(server, rid)
    assert (window["method"], window["path"], window["status"]) == ("POST", "/api/v1/{accessToken}/claim", 200)
    assert access_line(server, claim_id)["path"] == "/api/customer/device/{deviceName:path}/claim"
    assert access_line(server, unknown.headers["x-request-id"])["path"] == "/api/v1/{accessToken}/claim"
    assert access_line(server, missing.headers["x-request-id"])["path"] == "/api/v1/***"
    log = server.log()
    configured = [v for k, v in server.env.items() if k.endswith(("_PASSWORD", "_SECRET")) and v]
    for secret in (device.token, key, USER_PASSWORD, world.u1.token, world.admin.token, *configured):
        assert secret and secret not in log, secret


def test_a_wrong_login_is_logged_without_its_password(server: LiveServer) -> None:
    password = f"wrong-{secrets.token_hex(8)}"
    r = httpx.post(server.base_url + "/api/auth/login", json={"username": server.admin_email, "password": password})
    assert r.status_code == 401
    line = access_line(server, r.headers["x-request-id"])
    assert (line["path"], line["status"]) == ("/api/auth/login", 401)
    activate = f"act{secrets.token_hex(8)}"
    r = httpx.get(server.base_url + "/api/noauth/activate", params={"activateToken": activate})
    assert access_line(server, r.headers["x-request-id"])["path"] == "/api/noauth/activate"
    log = server.log()
    assert password not in log and activate not in log


def test_a_body_over_the_limit_is_a_413_with_a_request_id(server: LiveServer) -> None:
    rid = f"big-{secrets.token_hex(4)}"
    r = httpx.post(
        server.base_url + "/api/auth/login",
        content=b" " * (Settings().http_max_body_bytes + 1),
        headers={"Content-Type": "application/json", "X-Request-Id": rid},
    )
    assert r.status_code == 413 and r.headers["x-request-id"] == rid
    line = access_line(server, rid)
    assert (line["path"], line["status"], line["bytes"]) == ("/api/auth/login", 413, len(r.content))


def test_every_line_of_the_log_is_json_and_uvicorn_writes_in_it(server: LiveServer) -> None:
    httpx.get(server.base_url + "/readyz")
    entries = log_entries(server)  # fails on a line that is neither JSON nor the command's own
    loggers = {e["logger"] for e in entries}
    assert {"uvicorn.error", "claimd.access"} <= loggers, loggers
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert not any(name == "uvicorn.access" for name in loggers)  # uvicorn's own access log is off
