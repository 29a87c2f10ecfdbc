"""The ThingsBoard-compatible REST API over real HTTP: error bodies, auth, customers and users, OpenAPI.

Reference: ../shared/reference/thingsboard.md §3 (auth, error body) and §4 (customers, users).
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from http_helpers import NOT_FOUND, NULL_UUID, PERMISSION_DENIED, USER_PASSWORD, Api, assert_error, uid


def _create_user(world, email: str | None = None, customer_id: str | None = None) -> dict:
    email = email or f"{uid('u')}@example.com"
    return world.admin.ok(
        "post",
        "/api/user",
        params={"sendActivationMail": "false"},
        json={
            "email": email,
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": customer_id or world.c1_id},
        },
    )


def _activation_token(world, user_id: str) -> str:
    r = world.admin.get(f"/api/user/{user_id}/activationLink")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    assert r.text.startswith("http") and "/api/noauth/activate?activateToken=" in r.text, r.text
    return r.text.split("activateToken=", 1)[1]


def _activate(base_url: str, token: str, password: str = USER_PASSWORD) -> httpx.Response:
    return httpx.post(base_url + "/api/noauth/activate", json={"activateToken": token, "password": password})


# A. error bodies and how a JWT is sent -----------------------------------------------------------
def test_400_error_body(world):
    r = world.admin.post("/api/customer", json={"title": "   "})
    assert_error(r, 400, 31)


def test_401_without_jwt_and_error_body(live_server):
    for method, path in (
        ("get", "/api/customers"),
        ("get", "/api/auth/user"),
        ("post", "/api/device"),
        ("get", f"/api/device/{uuid.uuid4()}"),
    ):
        r = getattr(httpx, method)(live_server.base_url + path)
        assert_error(r, 401, 10, "Authentication failed")


def test_403_error_body(world):
    assert_error(world.u1.get("/api/customers"), 403, 20, PERMISSION_DENIED)


def test_404_error_body(world):
    assert_error(world.admin.get(f"/api/customer/{uuid.uuid4()}"), 404, 32, NOT_FOUND)
    assert_error(world.admin.get(f"/api/device/{uuid.uuid4()}"), 404, 32, NOT_FOUND)


def test_unknown_route_is_a_404_error_body(world, live_server):
    assert_error(httpx.get(live_server.base_url + "/api/no-such-thing"), 404, 32)
    assert_error(world.admin.get("/api/no/such/route"), 404, 32)


@pytest.mark.parametrize("header", ["X-Authorization", "Authorization"])
def test_jwt_in_either_header(world, live_server, header):
    r = httpx.get(live_server.base_url + "/api/auth/user", headers={header: f"Bearer {world.admin.token}"})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == live_server.admin_email and r.json()["authority"] == "TENANT_ADMIN"


def _forged(token: str) -> str:
    """The same claims, but signed with a different key (a token claimd never issued)."""
    header, payload, _signature = token.split(".")
    return f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).decode().rstrip('=')}"


@pytest.mark.parametrize(
    "value", ["Bearer garbage", "Bearer a.b.c", "Bearer", "Basic dXNlcjpwYXNz", "garbage", "FORGED"]
)
def test_bad_jwt_is_401(world, live_server, value):
    if value == "FORGED":
        value = "Bearer " + _forged(world.admin.token)
    for header in ("X-Authorization", "Authorization"):
        r = httpx.get(live_server.base_url + "/api/auth/user", headers={header: value})
        assert_error(r, 401, 10)


def test_refresh_token_is_not_an_access_token(world, live_server):
    r = httpx.get(
        live_server.base_url + "/api/auth/user", headers={"X-Authorization": f"Bearer {world.admin.refresh_token}"}
    )
    assert_error(r, 401, 10)


# B. auth ----------------------------------------------------------------------------------------
def test_login_good_password(live_server):
    r = httpx.post(
        live_server.base_url + "/api/auth/login",
        json={"username": live_server.admin_email, "password": live_server.admin_password},
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"token", "refreshToken"}
    for jwt in body.values():
        parts = jwt.split(".")
        assert len(parts) == 3
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        assert isinstance(claims["exp"], int)  # the Python REST clients read it


@pytest.mark.parametrize(("username", "password"), [("ADMIN", "wrong-password"), ("nobody@example.com", "whatever-1")])
def test_login_bad_credentials(live_server, username, password):
    username = live_server.admin_email if username == "ADMIN" else username
    r = httpx.post(live_server.base_url + "/api/auth/login", json={"username": username, "password": password})
    assert_error(r, 401, 10, "Invalid username or password")


def test_login_of_a_user_not_yet_activated(world, live_server):
    user = _create_user(world)
    r = httpx.post(live_server.base_url + "/api/auth/login", json={"username": user["email"], "password": ""})
    assert_error(r, 401, 10)
    r = httpx.post(
        live_server.base_url + "/api/auth/login", json={"username": user["email"], "password": USER_PASSWORD}
    )
    assert_error(r, 401, 10)


def test_login_without_a_password_field_is_400(live_server):
    r = httpx.post(live_server.base_url + "/api/auth/login", json={"username": live_server.admin_email})
    assert_error(r, 400, 31)


def test_refresh_returns_a_new_working_pair(live_server):
    first = Api.login(live_server.base_url, live_server.admin_email, live_server.admin_password)
    r = httpx.post(live_server.base_url + "/api/auth/token", json={"refreshToken": first.refresh_token})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert set(pair) == {"token", "refreshToken"}
    assert pair["token"] != first.token and pair["refreshToken"] != first.refresh_token
    fresh = Api(live_server.base_url, pair["token"])
    assert fresh.ok("get", "/api/auth/user")["email"] == live_server.admin_email
    # the new refresh token works in turn
    again = httpx.post(live_server.base_url + "/api/auth/token", json={"refreshToken": pair["refreshToken"]})
    assert again.status_code == 200 and set(again.json()) == {"token", "refreshToken"}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "ACCESS"])
def test_refresh_with_a_bad_token_is_401(world, live_server, token):
    token = world.admin.token if token == "ACCESS" else token  # an access token is not a refresh token
    r = httpx.post(live_server.base_url + "/api/auth/token", json={"refreshToken": token})
    assert_error(r, 401, 10)


def test_current_user(world, live_server):
    admin = world.admin_user
    assert admin["authority"] == "TENANT_ADMIN" and admin["email"] == live_server.admin_email
    assert admin["tenantId"]["entityType"] == "TENANT" and uuid.UUID(admin["tenantId"]["id"])
    assert admin["customerId"] == {"entityType": "CUSTOMER", "id": NULL_UUID}
    assert admin["id"]["entityType"] == "USER"
    user = world.u1.ok("get", "/api/auth/user")
    assert user["authority"] == "CUSTOMER_USER" and user["email"].endswith("@example.com")
    assert user["customerId"] == {"entityType": "CUSTOMER", "id": world.c1_id}
    assert user["tenantId"] == admin["tenantId"]


# C. customers ------------------------------------------------------------------------------------
def test_customer_create_get_delete(world):
    title = uid("Acme")
    created = world.admin.ok("post", "/api/customer", json={"title": title})
    assert created["title"] == title and created["id"]["entityType"] == "CUSTOMER"
    assert created["tenantId"]["id"] == world.tenant_id and isinstance(created["createdTime"], int)
    cid = created["id"]["id"]
    got = world.admin.ok("get", f"/api/customer/{cid}")
    assert got["id"] == created["id"] and got["title"] == title
    r = world.admin.delete(f"/api/customer/{cid}")
    assert r.status_code == 200 and r.content == b""
    assert_error(world.admin.get(f"/api/customer/{cid}"), 404, 32)
    assert_error(world.admin.delete(f"/api/customer/{cid}"), 404, 32)


def test_customer_duplicate_title_is_400(world):
    title = uid("Twin")
    world.admin.ok("post", "/api/customer", json={"title": title})
    assert_error(world.admin.post("/api/customer", json={"title": title}), 400, 31)


def test_customer_without_title_is_400(world):
    assert_error(world.admin.post("/api/customer", json={}), 400, 31)
    assert_error(
        world.admin.post("/api/customer", content=b"{not json", headers={"Content-Type": "application/json"}), 400, 31
    )


def test_customers_paging(world):
    prefix = uid("Paged")
    titles = {f"{prefix} {i}" for i in range(3)}
    for title in sorted(titles):
        world.admin.ok("post", "/api/customer", json={"title": title})
    first = world.admin.ok("get", "/api/customers", params={"pageSize": 2, "page": 0, "textSearch": prefix})
    second = world.admin.ok("get", "/api/customers", params={"pageSize": 2, "page": 1, "textSearch": prefix})
    assert set(first) >= {"data", "totalPages", "totalElements", "hasNext"}
    assert (first["totalPages"], first["totalElements"], first["hasNext"], len(first["data"])) == (2, 3, True, 2)
    assert (second["totalPages"], second["totalElements"], second["hasNext"], len(second["data"])) == (2, 3, False, 1)
    seen = [c["title"] for c in first["data"] + second["data"]]
    assert sorted(seen) == sorted(titles)
    beyond = world.admin.ok("get", "/api/customers", params={"pageSize": 2, "page": 2, "textSearch": prefix})
    assert beyond["data"] == [] and beyond["hasNext"] is False and beyond["totalElements"] == 3
    none = world.admin.ok("get", "/api/customers", params={"pageSize": 10, "page": 0, "textSearch": uid("absent")})
    assert none == {**none, "data": [], "totalElements": 0, "totalPages": 0, "hasNext": False}


@pytest.mark.parametrize("params", [{"pageSize": 0}, {"pageSize": -1}, {"page": -1}, {"pageSize": "x"}])
def test_customers_bad_paging_is_400(world, params):
    assert_error(world.admin.get("/api/customers", params=params), 400, 31)


def test_customer_user_cannot_list_or_create_customers(world):
    assert_error(world.u1.get("/api/customers"), 403, 20)
    assert_error(world.u1.post("/api/customer", json={"title": uid("nope")}), 403, 20)


def test_customer_user_sees_only_its_own_customer(world):
    assert world.u1.ok("get", f"/api/customer/{world.c1_id}")["title"] == world.c1["title"]
    assert_error(world.u1.get(f"/api/customer/{world.c2_id}"), 403, 20)


def test_non_uuid_customer_ids_are_400(world):
    assert_error(world.admin.get("/api/customer/not-a-uuid"), 400, 31)
    assert_error(world.admin.delete("/api/customer/not-a-uuid"), 400, 31)
    assert_error(world.admin.get("/api/user/not-a-uuid/activationLink"), 400, 31)


# C. users and activation -----------------------------------------------------------------------
def test_create_customer_user(world):
    email = f"{uid('new')}@example.com"
    user = _create_user(world, email)
    assert user["email"] == email and user["authority"] == "CUSTOMER_USER"
    assert user["customerId"] == {"entityType": "CUSTOMER", "id": world.c1_id}
    assert user["tenantId"]["id"] == world.tenant_id and user["id"]["entityType"] == "USER"


def test_duplicate_user_email_is_400(world):
    email = f"{uid('dup')}@example.com"
    _create_user(world, email)
    r = world.admin.post(
        "/api/user",
        params={"sendActivationMail": "false"},
        json={
            "email": email,
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": world.c2_id},
        },
    )
    assert_error(r, 400, 31)


def test_user_with_bad_email_or_unknown_customer(world):
    r = world.admin.post(
        "/api/user",
        json={
            "email": "not-an-email",
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": world.c1_id},
        },
    )
    assert_error(r, 400, 31)
    r = world.admin.post(
        "/api/user",
        json={
            "email": f"{uid('x')}@example.com",
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": str(uuid.uuid4())},
        },
    )
    assert_error(r, 404, 32)


def test_activation_flow(world, live_server):
    user = _create_user(world)
    token = _activation_token(world, user["id"]["id"])
    r = _activate(live_server.base_url, token)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token", "refreshToken"}
    me = Api(live_server.base_url, r.json()["token"]).ok("get", "/api/auth/user")
    assert me["email"] == user["email"] and me["authority"] == "CUSTOMER_USER"
    assert me["customerId"]["id"] == world.c1_id
    # the password now logs in
    Api.login(live_server.base_url, user["email"], USER_PASSWORD)
    # the token was used: a second activation is 404
    assert_error(_activate(live_server.base_url, token, "another-password"), 404, 32)
    # an active user gets no new link
    assert_error(world.admin.get(f"/api/user/{user['id']['id']}/activationLink"), 400, 31)


def test_a_second_activation_link_replaces_the_first(world, live_server):
    user = _create_user(world)
    first = _activation_token(world, user["id"]["id"])
    second = _activation_token(world, user["id"]["id"])
    assert first != second
    assert_error(_activate(live_server.base_url, first), 404, 32)
    assert _activate(live_server.base_url, second).status_code == 200


def test_activation_with_a_short_password_is_400_and_keeps_the_token(world, live_server):
    user = _create_user(world)
    token = _activation_token(world, user["id"]["id"])
    assert_error(_activate(live_server.base_url, token, "short"), 400, 31)
    assert _activate(live_server.base_url, token).status_code == 200


def test_activation_with_an_unknown_token_is_404(live_server):
    assert_error(_activate(live_server.base_url, "no-such-token"), 404, 32)


def test_activation_link_needs_a_tenant_admin(world):
    user = _create_user(world)
    assert_error(world.u1.get(f"/api/user/{user['id']['id']}/activationLink"), 403, 20)
    assert_error(world.admin.get(f"/api/user/{uuid.uuid4()}/activationLink"), 404, 32)


def test_customer_user_cannot_create_users(world):
    r = world.u1.post(
        "/api/user",
        json={
            "email": f"{uid('x')}@example.com",
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": world.c1_id},
        },
    )
    assert_error(r, 403, 20)


# J. OpenAPI ---------------------------------------------------------------------------------------
def test_openapi_lists_the_claim_paths(live_server):
    r = httpx.get(live_server.base_url + "/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    paths = r.json()["paths"]
    claim = paths["/api/customer/device/{deviceName}/claim"]
    assert {"post", "delete"} <= set(claim)
    assert "post" in paths["/api/v1/{accessToken}/claim"]
    for path in (
        "/api/auth/login",
        "/api/device",
        "/api/customer/{customerId}/device/{deviceId}",
        "/api/plugins/telemetry/{entityType}/{entityId}/{scope}",
    ):
        assert path in paths, path


def test_docs_is_html(live_server):
    r = httpx.get(live_server.base_url + "/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower() and "openapi.json" in r.text


def test_healthz(live_server):
    r = httpx.get(live_server.base_url + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
