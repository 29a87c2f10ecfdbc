"""The HTTP helpers of the tests that drive a real ``claimd serve`` (e2e/, transports/): plain ``httpx``
against ``live_server.base_url``.

``Api``          a logged-in (or anonymous) client: ``api.get/post/put/delete(path, ...)`` and
                 ``api.request(method, path, ...)`` send the JWT in ``X-Authorization: Bearer``;
                 ``api.ok(method, path, ...)`` requires 200.
``Device``       a provisioned device with its access token.
``World``        the tenant admin, customers C1 and C2 each with one activated customer user (``u1``,
                 ``u2``), and ``world.device()`` to provision devices (see the ``world`` fixture).
``assert_error`` checks ThingsBoard's error body ``{"status", "message", "errorCode", "timestamp"}``.
``problem``      checks claimd's RFC 9457 problem+json body (the nRF Cloud and LoRaWAN surfaces).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
USER_PASSWORD = "user-password-1"
WINDOW_HEADER = "X-Claimd-Claim-Window"
ERROR_CODES = {400: 31, 401: 10, 403: 20, 404: 32, 429: 33}
PERMISSION_DENIED = "You don't have permission to perform this operation!"
NOT_FOUND = "Requested item wasn't found!"


def uid(prefix: str = "t") -> str:
    """A name no other test uses (the server is shared within a module)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def assert_error(
    r: httpx.Response, status: int, code: int | None = None, message: str | None = None, contains: str | None = None
) -> dict[str, Any]:
    """``r`` is ThingsBoard's error body with ``status``; ``message`` exact or ``contains`` a part."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} → {r.status_code} {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"status", "message", "errorCode", "timestamp"}, body
    assert body["status"] == status
    assert body["errorCode"] == (code if code is not None else ERROR_CODES[status]), body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert isinstance(body["timestamp"], int) and abs(body["timestamp"] - now_ms()) < 120_000, body
    if message is not None:
        assert body["message"] == message, body
    if contains is not None:
        assert contains in body["message"], body
    return body


PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code", "message"}


def problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem+json body with ``status``, claimd's ``code`` (``type`` is
    ``urn:claimd:problem:{code}``), nRF Cloud's ``message`` (= ``detail``) and the request path as
    ``instance``."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} → {r.status_code} {r.text}"
    assert r.headers.get("content-type", "").startswith("application/problem+json"), r.headers
    body = r.json()
    assert isinstance(body, dict) and set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status, body
    assert isinstance(body["detail"], str) and body["detail"].strip() and body["message"] == body["detail"], body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["code"], str) and body["code"] and body["type"] == f"urn:claimd:problem:{body['code']}", body
    assert body["instance"] == r.request.url.path, body
    if code is not None:
        assert body["code"] == code, body
    return body


def claim_path(device_name: str) -> str:
    """``/api/customer/device/{deviceName}/claim`` with the name percent-encoded (spaces, '/')."""
    return f"/api/customer/device/{quote(device_name, safe='')}/claim"


class Api:
    """An HTTP client of one claimd, optionally logged in (JWT in ``X-Authorization: Bearer``)."""

    def __init__(self, base_url: str, token: str | None = None, refresh_token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.refresh_token = refresh_token
        self.http = httpx.Client(base_url=base_url, timeout=30)

    @classmethod
    def login(cls, base_url: str, email: str, password: str) -> Api:
        r = httpx.post(base_url + "/api/auth/login", json={"username": email, "password": password}, timeout=30)
        assert r.status_code == 200, r.text
        return cls(base_url, r.json()["token"], r.json()["refreshToken"])

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"X-Authorization": f"Bearer {self.token}"} if self.token else {}
        out.update(headers or {})
        return out

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.http.request(method.upper(), path, headers=self._headers(headers), **kw)

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, headers, **kw)

    def post(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, headers, **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, headers, **kw)

    def put(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, headers, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        """Send and require 200; returns the JSON body (None when empty)."""
        r = self.request(method, path, **kw)
        assert r.status_code == 200, f"{method.upper()} {path} → {r.status_code} {r.text}"
        return r.json() if r.content else None

    # the claim API -------------------------------------------------------------------------
    def claim(self, device_name: str, body: Any = ..., raw: bytes | None = None) -> httpx.Response:
        """Customer claim. ``body`` ... = no body at all; ``raw`` = exact bytes."""
        if raw is not None:
            return self.post(claim_path(device_name), content=raw, headers={"Content-Type": "application/json"})
        if body is ...:
            return self.post(claim_path(device_name))
        return self.post(claim_path(device_name), json=body)

    def reclaim(self, device_name: str) -> httpx.Response:
        return self.delete(claim_path(device_name))

    def close(self) -> None:
        self.http.close()


@dataclass
class Device:
    id: str
    name: str
    token: str
    json: dict[str, Any]


def device_message(
    base_url: str, token: str, payload: Any = ..., raw: bytes | None = None, content_type: str = "application/json"
) -> httpx.Response:
    """The HTTP device API: ``POST /api/v1/{token}/claim``; ``payload`` ... = empty body."""
    url = f"{base_url}/api/v1/{quote(token, safe='')}/claim"
    if raw is not None:
        return httpx.post(url, content=raw, headers={"Content-Type": content_type}, timeout=30)
    if payload is ...:
        return httpx.post(url, timeout=30)
    return httpx.post(url, json=payload, timeout=30)


@dataclass
class World:
    base_url: str
    admin: Api
    admin_user: dict[str, Any]
    c1: dict[str, Any]
    c2: dict[str, Any]
    u1: Api
    u2: Api
    apis: list[Api] = field(default_factory=list)

    @property
    def tenant_id(self) -> str:
        return self.admin_user["tenantId"]["id"]

    @property
    def c1_id(self) -> str:
        return self.c1["id"]["id"]

    @property
    def c2_id(self) -> str:
        return self.c2["id"]["id"]

    def device(self, name: str | None = None, token: str | None = None, type: str = "default") -> Device:
        """Provision an unassigned device as the tenant admin, with a known access token."""
        name = name or uid("dev")
        token = token or uid("tok")
        created = self.admin.ok("post", "/api/device", params={"accessToken": token}, json={"name": name, "type": type})
        return Device(created["id"]["id"], name, token, created)

    def window(self, device: Device, payload: Any = ..., expect: str | None = "opened") -> httpx.Response:
        """The device opens its claim window over HTTP; checks 200, empty body and the header."""
        r = device_message(self.base_url, device.token, payload)
        assert r.status_code == 200 and r.content == b"", (r.status_code, r.text)
        if expect is not None:
            assert r.headers.get(WINDOW_HEADER) == expect, r.headers
        return r

    def get_device(self, device: Device) -> dict[str, Any]:
        return self.admin.ok("get", f"/api/device/{device.id}")

    def owner(self, device: Device) -> str:
        return self.get_device(device)["customerId"]["id"]

    def server_attributes(self, device: Device, keys: str | None = None) -> dict[str, Any]:
        params = {"keys": keys} if keys else None
        rows = self.admin.ok(
            "get", f"/api/plugins/telemetry/DEVICE/{device.id}/values/attributes/SERVER_SCOPE", params=params
        )
        return {row["key"]: row["value"] for row in rows}

    def save_server_attributes(self, device: Device, values: dict[str, Any]) -> None:
        assert self.admin.ok("post", f"/api/plugins/telemetry/DEVICE/{device.id}/SERVER_SCOPE", json=values) is None

    def new_customer_user(self, customer_id: str, email: str | None = None) -> Api:
        """Create and activate a customer user of ``customer_id``; returns it logged in."""
        return new_customer_user(self.admin, customer_id, email)


def wait_for_op(api: Api, op_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """A bulk operation once it has ended (SUCCEEDED or FAILED), polled every 0.1 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = api.ok("get", f"/v1/bulk-ops-requests/{op_id}")
        if op["status"] in ("SUCCEEDED", "FAILED"):
            return op
        time.sleep(0.1)
    raise AssertionError(f"bulk operation {op_id} did not end within {timeout} s: {op}")


def new_customer_user(admin: Api, customer_id: str, email: str | None = None) -> Api:
    """Create and activate a customer user of ``customer_id`` (as ``admin``); returns it logged in."""
    email = email or f"{uid('user')}@example.com"
    user = admin.ok(
        "post",
        "/api/user",
        params={"sendActivationMail": "false"},
        json={
            "email": email,
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": customer_id},
        },
    )
    link = admin.get(f"/api/user/{user['id']['id']}/activationLink")
    assert link.status_code == 200, link.text
    token = link.text.split("activateToken=")[1].strip()
    r = httpx.post(
        admin.base_url + "/api/noauth/activate", json={"activateToken": token, "password": USER_PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return Api(admin.base_url, r.json()["token"], r.json()["refreshToken"])


def make_world(base_url: str, admin_email: str, admin_password: str) -> World:
    admin = Api.login(base_url, admin_email, admin_password)
    admin_user = admin.ok("get", "/api/auth/user")
    c1 = admin.ok("post", "/api/customer", json={"title": uid("Customer C1")})
    c2 = admin.ok("post", "/api/customer", json={"title": uid("Customer C2")})
    u1 = new_customer_user(admin, c1["id"]["id"])
    u2 = new_customer_user(admin, c2["id"]["id"])
    return World(base_url, admin, admin_user, c1, c2, u1, u2, [admin, u1, u2])


# claim outcomes ------------------------------------------------------------------------------
FAILURE_PAYLOAD = {"secretKey": "value", "durationMs": 1}
GOOD_PAYLOAD = {"secretKey": "value", "durationMs": 60000}


def assert_outcome(r: httpx.Response, outcome: str) -> None:
    """400 with the bare JSON string FAILURE or CLAIMED."""
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == outcome, r.text


def assert_success(r: httpx.Response, world: Any, device: Any, customer_id: str) -> dict[str, Any]:
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"device", "response"} and body["response"] == "SUCCESS"
    d = body["device"]
    assert d["id"] == {"entityType": "DEVICE", "id": device.id} and d["name"] == device.name
    assert d["customerId"] == {"entityType": "CUSTOMER", "id": customer_id}
    assert d["tenantId"] == {"entityType": "TENANT", "id": world.tenant_id}
    assert world.owner(device) == customer_id
    return d
