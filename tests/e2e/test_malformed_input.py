"""Malformed input is a client's mistake: 400 in the route's error dialect, never a 500, and the
keep-alive connection stays open (issue 20: NUL bytes reaching PostgreSQL, a lone-surrogate attribute
key, 5,000-deep JSON). Run on SQLite and on PostgreSQL, where NUL in text is an error of the database.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from http_helpers import uid

DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


class Connection:
    """One keep-alive connection (http.client): a request that ends it would fail the next one."""

    def __init__(self, base_url: str, token: str) -> None:
        url = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.token = token

    def send(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, str, dict]:
        headers = {"X-Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        assert not r.will_close, f"{method} {path} → {r.status}: the server closed the connection"
        return r.status, r.getheader("content-type", ""), json.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def conn(world):
    c = Connection(world.base_url, world.admin.token)
    yield c
    c.close()


def assert_problem(answer: tuple[int, str, dict], contains: str) -> None:
    """RFC 9457 problem details (the /v1/ dialect), status 400."""
    status, content_type, body = answer
    assert status == 400, answer
    assert content_type.startswith("application/problem+json"), answer
    assert body["status"] == 400 and body["code"] == "BAD_REQUEST" and contains in body["detail"], body


def assert_thingsboard(answer: tuple[int, str, dict], contains: str) -> None:
    status, _, body = answer
    assert status == 400, answer
    assert body["status"] == 400 and body["errorCode"] == 31 and contains in body["message"], body


def assert_tts(answer: tuple[int, str, dict], contains: str) -> None:
    status, _, body = answer
    assert status == 400, answer
    assert body["code"] == 3 and contains in body["message"], body


def test_nul_in_paths_and_queries(conn):
    assert_problem(conn.send("GET", "/v1/roles/%00"), "NUL")
    assert_problem(conn.send("DELETE", "/v1/roles/a%00"), "NUL")
    assert_problem(conn.send("GET", "/v1/claimed-devices/tags/a%00b"), "NUL")
    assert_problem(conn.send("GET", "/v1/claimed-devices?tags=a%00b"), "NUL")
    assert_thingsboard(conn.send("GET", "/api/tenant/devices?pageSize=10&page=0&textSearch=%00"), "NUL")
    assert conn.send("GET", "/v1/roles")[0] == 200  # the same connection still answers


def test_nul_in_json_bodies(conn, world):
    user_id = world.admin.ok("get", "/api/customer/" + world.c1_id + "/users", params={"pageSize": 10, "page": 0})[
        "data"
    ][0]["id"]["id"]
    assert_problem(conn.send("PUT", f"/v1/users/{user_id}/role", b'{"role": "a\\u0000"}'), "NUL")
    assert_problem(conn.send("POST", "/v1/claimed-devices/tags", b'{"tag": "a\\u0000b"}'), "NUL")
    assert_problem(conn.send("POST", "/v1/roles", b'{"name": "r", "permissions": ["a\x00"]}'), "NUL")
    assert_thingsboard(conn.send("POST", "/api/device", json.dumps({"name": "a\x00b"}).encode()), "NUL")


def test_lone_surrogate_attribute_key(conn, world):
    device = world.device(uid("dev"))
    path = f"/api/plugins/telemetry/DEVICE/{device.id}/SERVER_SCOPE"
    assert_thingsboard(conn.send("POST", path, b'{"\\ud800": 1}'), "surrogate")
    assert_thingsboard(conn.send("POST", path, b'{"k": "\\udfff"}'), "surrogate")
    assert conn.send("POST", path, b'{"emoji \\ud83d\\ude00": 1}')[0] == 200  # a pair is a character


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json(conn, body):
    assert_problem(conn.send("POST", "/v1/claimed-devices", body), "nested deeper")
    assert_problem(conn.send("POST", "/v1/claimed-devices", body, content_type="text/plain"), "nested deeper")
    assert_tts(conn.send("POST", "/api/v3/edcs/claim", body), "nested deeper")
    # A body the edge leaves alone (CBOR may hold anything) is still parsed as JSON by these routes.
    assert_problem(conn.send("POST", "/v1/claimed-devices", body, content_type="application/cbor"), "nested deeper")
    assert_tts(conn.send("POST", "/api/v3/edcs/claim", body, content_type="application/cbor"), "nested deeper")
    assert_thingsboard(conn.send("POST", "/api/customer/device/x/claim", body), "nested deeper")
    # The LoRaWAN import reads JSON devices whatever the declared type (CSV is told from JSON by content).
    assert_problem(conn.send("POST", "/v1/lorawan-devices/import", body, content_type="text/csv"), "nested deeper")
    # Nesting that a client may legitimately send still works.
    status, _, _ = conn.send("POST", "/v1/claimed-devices", json.dumps({"claimToken": [[[1]]]}).encode())
    assert status == 400
