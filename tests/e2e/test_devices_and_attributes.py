"""Devices and their attributes through the REST API (reference §4), over real HTTP."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from http_helpers import NULL_UUID, WINDOW_HEADER, assert_error, device_message, now_ms, uid

TELEMETRY = "/api/plugins/telemetry"


# D. devices -----------------------------------------------------------------------------------------
def test_create_device_with_an_access_token(world, live_server):
    name, token = uid("Thermostat"), uid("token")
    r = world.admin.post(
        "/api/device", params={"accessToken": token}, json={"name": name, "type": "thermostat", "label": "Hall"}
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["name"] == name and d["type"] == "thermostat" and d["label"] == "Hall"
    assert d["id"]["entityType"] == "DEVICE" and uuid.UUID(d["id"]["id"])
    assert d["tenantId"] == {"entityType": "TENANT", "id": world.tenant_id}
    assert d["customerId"] == {"entityType": "CUSTOMER", "id": NULL_UUID}
    assert isinstance(d["createdTime"], int) and abs(d["createdTime"] - now_ms()) < 120_000
    creds = world.admin.ok("get", f"/api/device/{d['id']['id']}/credentials")
    assert creds["credentialsType"] == "ACCESS_TOKEN" and creds["credentialsId"] == token
    assert creds["deviceId"] == {"entityType": "DEVICE", "id": d["id"]["id"]}
    assert creds["credentialsValue"] is None
    # the token authenticates the device
    assert device_message(live_server.base_url, token, {}).status_code == 200


def test_create_device_without_an_access_token_generates_one(world, live_server):
    name = uid("Auto")
    d = world.admin.ok("post", "/api/device", json={"name": name})
    assert d["type"] == "default" and d["name"] == name
    creds = world.admin.ok("get", f"/api/device/{d['id']['id']}/credentials")
    token = creds["credentialsId"]
    assert creds["credentialsType"] == "ACCESS_TOKEN" and isinstance(token, str) and len(token) >= 16
    r = device_message(live_server.base_url, token, {"secretKey": "k"})
    assert r.status_code == 200 and r.headers[WINDOW_HEADER] == "opened"
    other = world.admin.ok("post", "/api/device", json={"name": uid("Auto")})
    assert world.admin.ok("get", f"/api/device/{other['id']['id']}/credentials")["credentialsId"] != token


def test_duplicate_device_name_is_400(world):
    device = world.device()
    r = world.admin.post("/api/device", params={"accessToken": uid("tok")}, json={"name": device.name})
    assert_error(r, 400, 31)
    r = world.admin.post("/api/device", json={"name": device.name})
    assert_error(r, 400, 31)


def test_duplicate_access_token_is_400(world):
    device = world.device()
    name = uid("other")
    r = world.admin.post("/api/device", params={"accessToken": device.token}, json={"name": name})
    assert_error(r, 400, 31)
    assert_error(world.admin.get("/api/tenant/device", params={"deviceName": name}), 404, 32)


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"type": "default"}, {"name": None}])
def test_device_without_a_name_is_400(world, body):
    assert_error(world.admin.post("/api/device", json=body), 400, 31)


def test_customer_user_cannot_create_devices_or_read_credentials(world):
    assert_error(world.u1.post("/api/device", json={"name": uid("nope")}), 403, 20)
    device = world.device()
    assert_error(world.u1.get(f"/api/device/{device.id}/credentials"), 403, 20)


def test_get_device_by_id(world):
    device = world.device()
    got = world.admin.ok("get", f"/api/device/{device.id}")
    assert got["id"] == {"entityType": "DEVICE", "id": device.id} and got["name"] == device.name
    assert got == device.json


@pytest.mark.parametrize("path", ["/api/tenant/devices", "/api/tenant/device"])
def test_get_tenant_device_by_name(world, path):
    device = world.device(name=uid("By name"))
    got = world.admin.ok("get", path, params={"deviceName": device.name})
    assert got["id"]["id"] == device.id and got["name"] == device.name
    assert_error(world.admin.get(path, params={"deviceName": uid("absent")}), 404, 32)
    # lookup is exact: neither a prefix nor another case finds it
    assert_error(world.admin.get(path, params={"deviceName": device.name[:-1]}), 404, 32)
    assert_error(world.admin.get(path, params={"deviceName": device.name.upper()}), 404, 32)


def test_list_tenant_devices_paging_text_search_and_type(world):
    prefix = uid("Listed")
    kind_a, kind_b = uid("type-a"), uid("type-b")
    names_a = [f"{prefix}-{i}" for i in range(3)]
    for name in names_a:
        world.device(name=name, type=kind_a)
    world.device(name=f"{prefix}-b", type=kind_b)
    first = world.admin.ok("get", "/api/tenant/devices", params={"pageSize": 2, "page": 0, "textSearch": prefix})
    second = world.admin.ok("get", "/api/tenant/devices", params={"pageSize": 2, "page": 1, "textSearch": prefix})
    assert (first["totalElements"], first["totalPages"], first["hasNext"], len(first["data"])) == (4, 2, True, 2)
    assert (second["totalElements"], second["totalPages"], second["hasNext"], len(second["data"])) == (4, 2, False, 2)
    assert sorted(d["name"] for d in first["data"] + second["data"]) == sorted([*names_a, f"{prefix}-b"])
    typed = world.admin.ok(
        "get", "/api/tenant/devices", params={"pageSize": 10, "page": 0, "textSearch": prefix, "type": kind_a}
    )
    assert sorted(d["name"] for d in typed["data"]) == names_a
    assert typed["totalElements"] == 3 and typed["hasNext"] is False
    assert {d["type"] for d in typed["data"]} == {kind_a}
    other = world.admin.ok("get", "/api/tenant/devices", params={"pageSize": 10, "page": 0, "type": kind_b})
    assert [d["name"] for d in other["data"]] == [f"{prefix}-b"]


def test_list_tenant_devices_needs_a_tenant_admin(world):
    # ThingsBoard: @PreAuthorize("hasAuthority('TENANT_ADMIN')") on getTenantDevices
    assert_error(world.u1.get("/api/tenant/devices", params={"pageSize": 10, "page": 0}), 403, 20)


@pytest.mark.parametrize("params", [{"pageSize": 0, "page": 0}, {"pageSize": 10, "page": -1}, {"pageSize": 1001}])
def test_list_tenant_devices_bad_paging_is_400(world, params):
    assert_error(world.admin.get("/api/tenant/devices", params=params), 400, 31)


def test_assign_and_unassign(world):
    device = world.device()
    assigned = world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{device.id}")
    assert assigned["customerId"] == {"entityType": "CUSTOMER", "id": world.c1_id}
    assert assigned["id"]["id"] == device.id
    assert world.owner(device) == world.c1_id
    unassigned = world.admin.ok("delete", f"/api/customer/device/{device.id}")
    assert unassigned["customerId"] == {"entityType": "CUSTOMER", "id": NULL_UUID}
    assert world.owner(device) == NULL_UUID
    assert_error(
        world.admin.delete(f"/api/customer/device/{device.id}"), 400, 31, "Device isn't assigned to any customer!"
    )


def test_assign_errors(world):
    device = world.device()
    assert_error(world.admin.post(f"/api/customer/{uuid.uuid4()}/device/{device.id}"), 404, 32)
    assert_error(world.admin.post(f"/api/customer/{world.c1_id}/device/{uuid.uuid4()}"), 404, 32)
    assert_error(world.u1.post(f"/api/customer/{world.c1_id}/device/{device.id}"), 403, 20)
    assert_error(world.admin.delete(f"/api/customer/device/{uuid.uuid4()}"), 404, 32)
    assert world.owner(device) == NULL_UUID


def test_delete_device(world, live_server):
    device = world.device()
    r = world.admin.delete(f"/api/device/{device.id}")
    assert r.status_code == 200 and r.content == b""
    assert_error(world.admin.get(f"/api/device/{device.id}"), 404, 32)
    assert_error(world.admin.get("/api/tenant/device", params={"deviceName": device.name}), 404, 32)
    assert_error(world.admin.delete(f"/api/device/{device.id}"), 404, 32)
    r = device_message(live_server.base_url, device.token, {})
    assert r.status_code == 401 and r.content == b""
    # the name and the token are free again
    again = world.admin.ok("post", "/api/device", params={"accessToken": device.token}, json={"name": device.name})
    assert again["id"]["id"] != device.id


def test_customer_user_sees_only_its_own_devices(world):
    mine, other, free = world.device(), world.device(), world.device()
    world.admin.ok("post", f"/api/customer/{world.c1_id}/device/{mine.id}")
    world.admin.ok("post", f"/api/customer/{world.c2_id}/device/{other.id}")
    got = world.u1.ok("get", f"/api/device/{mine.id}")
    assert got["name"] == mine.name and got["customerId"]["id"] == world.c1_id
    assert_error(world.u1.get(f"/api/device/{other.id}"), 403, 20)
    assert_error(world.u1.get(f"/api/device/{free.id}"), 403, 20)
    assert_error(world.u1.get(f"/api/device/{uuid.uuid4()}"), 404, 32)
    assert_error(world.u1.delete(f"/api/device/{mine.id}"), 403, 20)


def test_customer_devices(world):
    customer = world.admin.ok("post", "/api/customer", json={"title": uid("Owner")})
    cid = customer["id"]["id"]
    a, b, c = world.device(), world.device(), world.device()
    for d in (a, b):
        world.admin.ok("post", f"/api/customer/{cid}/device/{d.id}")
    page = world.admin.ok("get", f"/api/customer/{cid}/devices", params={"pageSize": 10, "page": 0})
    assert sorted(d["name"] for d in page["data"]) == sorted([a.name, b.name])
    assert page["totalElements"] == 2 and page["hasNext"] is False
    assert {d["customerId"]["id"] for d in page["data"]} == {cid}
    first = world.admin.ok("get", f"/api/customer/{cid}/devices", params={"pageSize": 1, "page": 0})
    assert len(first["data"]) == 1 and first["totalPages"] == 2 and first["hasNext"] is True
    # the customer's own user may list them; another customer's user may not
    user = world.new_customer_user(cid)
    assert sorted(
        d["name"] for d in user.ok("get", f"/api/customer/{cid}/devices", params={"pageSize": 10, "page": 0})["data"]
    ) == sorted([a.name, b.name])
    assert_error(world.u1.get(f"/api/customer/{cid}/devices", params={"pageSize": 10, "page": 0}), 403, 20)
    assert_error(world.admin.get(f"/api/customer/{uuid.uuid4()}/devices", params={"pageSize": 10, "page": 0}), 404, 32)
    user.close()
    assert c.name not in {d["name"] for d in page["data"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/device/not-a-uuid"),
        ("delete", "/api/device/not-a-uuid"),
        ("get", "/api/device/not-a-uuid/credentials"),
        ("post", "/api/customer/not-a-uuid/device/{device}"),
        ("post", "/api/customer/{customer}/device/not-a-uuid"),
        ("delete", "/api/customer/device/not-a-uuid"),
        ("get", "/api/customer/not-a-uuid/devices"),
        ("post", f"{TELEMETRY}/DEVICE/not-a-uuid/SERVER_SCOPE"),
        ("post", f"{TELEMETRY}/DEVICE/not-a-uuid/attributes/SERVER_SCOPE"),
        ("post", f"{TELEMETRY}/not-a-uuid/SERVER_SCOPE"),
        ("get", f"{TELEMETRY}/DEVICE/not-a-uuid/values/attributes/SERVER_SCOPE"),
        ("delete", f"{TELEMETRY}/DEVICE/not-a-uuid/SERVER_SCOPE?keys=a"),
        ("get", "/api/audit/logs/entity/DEVICE/not-a-uuid"),
    ],
)
def test_non_uuid_ids_are_400(world, method, path):
    device = world.device()
    path = path.format(device=device.id, customer=world.c1_id)
    kwargs = {"json": {"a": 1}} if method == "post" and "telemetry" in path else {}
    assert_error(getattr(world.admin, method)(path, **kwargs), 400, 31)


# E. attributes ------------------------------------------------------------------------------------
SAVE_PATHS = [
    f"{TELEMETRY}/DEVICE/{{id}}/SERVER_SCOPE",
    f"{TELEMETRY}/DEVICE/{{id}}/attributes/SERVER_SCOPE",
    f"{TELEMETRY}/{{id}}/SERVER_SCOPE",
]


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
@pytest.mark.parametrize("path", SAVE_PATHS, ids=["v1", "v2", "legacy"])
def test_save_attributes(world, path, content_type):
    device = world.device()
    body = json.dumps({"color": "red", "size": 3, "nested": {"a": [1, 2]}, "on": False})
    r = world.admin.post(path.format(id=device.id), content=body.encode(), headers={"Content-Type": content_type})
    assert r.status_code == 200 and r.content == b"", r.text
    assert world.server_attributes(device) == {"color": "red", "size": 3, "nested": {"a": [1, 2]}, "on": False}


def test_save_shared_scope_is_separate_from_server_scope(world):
    device = world.device()
    world.admin.ok("post", f"{TELEMETRY}/DEVICE/{device.id}/SHARED_SCOPE", json={"shared": 1})
    world.save_server_attributes(device, {"server": 2})
    assert world.server_attributes(device) == {"server": 2}
    rows = world.admin.ok("get", f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SHARED_SCOPE")
    assert [(row["key"], row["value"]) for row in rows] == [("shared", 1)]


def test_overwriting_an_attribute_updates_value_and_time(world):
    device = world.device()
    world.save_server_attributes(device, {"v": "one"})
    [before] = world.admin.ok("get", f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE")
    world.save_server_attributes(device, {"v": "two"})
    [after] = world.admin.ok("get", f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE")
    assert after["value"] == "two" and after["lastUpdateTs"] >= before["lastUpdateTs"]


@pytest.mark.parametrize("scope", ["FOO_SCOPE", "CLIENT_SCOPE", "server_scope"])
@pytest.mark.parametrize("path", SAVE_PATHS, ids=["v1", "v2", "legacy"])
def test_save_attributes_invalid_scope_is_400(world, path, scope):
    device = world.device()
    r = world.admin.post(path.format(id=device.id).replace("SERVER_SCOPE", scope), json={"a": 1})
    assert_error(r, 400, 31, contains="Invalid scope")
    assert world.server_attributes(device) == {}


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_save_attributes_invalid_json_is_400(world, content_type):
    device = world.device()
    r = world.admin.post(
        f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", content=b'{"a": ', headers={"Content-Type": content_type}
    )
    assert_error(r, 400, 31, "Invalid JSON")


@pytest.mark.parametrize("raw", [b"{}", b"[]", b'"text"', b"42", b"null"])
def test_save_attributes_without_data_is_400(world, raw):
    device = world.device()
    r = world.admin.post(
        f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, 31, "No attributes data found in request body!")


def test_save_attributes_blank_key_is_400(world):
    device = world.device()
    r = world.admin.post(f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", json={" ": 1})
    assert_error(r, 400, 31, "Key cannot be blank")


def test_attributes_of_an_unknown_device_are_404(world):
    missing = uuid.uuid4()
    assert_error(world.admin.post(f"{TELEMETRY}/DEVICE/{missing}/SERVER_SCOPE", json={"a": 1}), 404, 32)
    assert_error(world.admin.get(f"{TELEMETRY}/DEVICE/{missing}/values/attributes/SERVER_SCOPE"), 404, 32)


def test_attributes_need_a_jwt(world, live_server):
    device = world.device()
    r = httpx.post(f"{live_server.base_url}{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", json={"a": 1})
    assert_error(r, 401, 10)
    assert world.server_attributes(device) == {}


def test_customer_user_cannot_touch_attributes_of_a_device_not_its_own(world):
    device = world.device()
    assert_error(world.u1.post(f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", json={"claimingAllowed": True}), 403, 20)
    assert_error(world.u1.get(f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE"), 403, 20)
    assert world.server_attributes(device) == {}


def test_get_attribute_values_by_keys(world):
    device = world.device()
    world.save_server_attributes(device, {"a": "x", "b": 2, "c": True})
    before = now_ms()
    rows = world.admin.ok(
        "get", f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE", params={"keys": "a,b"}
    )
    assert sorted(row["key"] for row in rows) == ["a", "b"]
    for row in rows:
        assert set(row) == {"lastUpdateTs", "key", "value"}
        assert isinstance(row["lastUpdateTs"], int) and abs(row["lastUpdateTs"] - before) < 120_000
    assert {row["key"]: row["value"] for row in rows} == {"a": "x", "b": 2}
    missing = world.admin.ok(
        "get", f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE", params={"keys": "nope"}
    )
    assert missing == []


def test_numeric_strings_are_cast_and_true_stays_a_string(world):
    device = world.device()
    world.save_server_attributes(device, {"int": "42", "float": "3.5", "neg": "-7", "flag": "true", "word": "12ab"})
    values = world.server_attributes(device)
    assert values == {"int": 42, "float": 3.5, "neg": -7, "flag": "true", "word": "12ab"}
    assert isinstance(values["int"], int) and isinstance(values["flag"], str)


@pytest.mark.parametrize(
    "path", [f"{TELEMETRY}/DEVICE/{{id}}/SERVER_SCOPE", f"{TELEMETRY}/{{id}}/SERVER_SCOPE"], ids=["entity", "legacy"]
)
def test_delete_attributes(world, path):
    device = world.device()
    world.save_server_attributes(device, {"a": 1, "b": 2, "c": 3})
    r = world.admin.delete(path.format(id=device.id), params={"keys": "a,b"})
    assert r.status_code == 200 and r.content == b"", r.text
    assert world.server_attributes(device) == {"c": 3}
    assert_error(world.admin.delete(path.format(id=device.id)), 400, 31)  # no keys
    assert world.server_attributes(device) == {"c": 3}


def test_claiming_data_is_read_back_redacted(world):
    device = world.device()
    expires = now_ms() + 3_600_000
    world.save_server_attributes(device, {"claimingData": {"secretKey": "my-server-secret", "expirationTime": expires}})
    r = world.admin.get(
        f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE", params={"keys": "claimingData"}
    )
    assert r.status_code == 200
    assert "my-server-secret" not in r.text
    [row] = r.json()
    assert row["key"] == "claimingData"
    value = row["value"] if isinstance(row["value"], dict) else json.loads(row["value"])
    assert value["expirationTime"] == expires and value["secretKey"] != "my-server-secret" and value["secretKey"]


def test_claiming_data_as_a_json_string_is_accepted(world):
    device = world.device()
    expires = now_ms() + 3_600_000
    world.save_server_attributes(
        device, {"claimingData": json.dumps({"secretKey": "s", "expirationTime": str(expires)})}
    )
    value = world.server_attributes(device)["claimingData"]
    value = value if isinstance(value, dict) else json.loads(value)
    assert int(value["expirationTime"]) == expires and value["secretKey"] != "s"


@pytest.mark.parametrize(
    "claiming_data",
    [
        {"secretKey": "k", "expirationTime": 1, "extra": True},
        {"secretKey": "k", "expirationTime": "soon"},
        {"secretKey": {"nested": 1}, "expirationTime": 1},
        "not json",
        [1, 2],
    ],
)
def test_malformed_claiming_data_is_400(world, claiming_data):
    device = world.device()
    r = world.admin.post(f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", json={"claimingData": claiming_data})
    assert_error(r, 400, 31)
    assert world.server_attributes(device) == {}


# input robustness: bad input is a 4xx, never a 500, on every backend ---------------------------------
NUL_NAME = "nul\u0000name"


# A NUL is refused at the edge for every route (claimd.entrypoints.http.edge), with ThingsBoard's 400.
@pytest.mark.parametrize("kind", ["claim", "reclaim", "tenant-device", "tenant-devices"])
def test_a_name_with_a_nul_character_is_refused(world, kind):
    name = f"{NUL_NAME}-{uuid.uuid4().hex[:8]}"
    if kind == "claim":
        r = world.u1.claim(name, {"secretKey": "x"})
    elif kind == "reclaim":
        r = world.admin.reclaim(name)
    else:
        r = world.admin.get(f"/api/{kind.replace('-', '/', 1)}", params={"deviceName": name})
    assert_error(r, 400, 31, contains="NUL character")


@pytest.mark.parametrize("params", [{"textSearch": NUL_NAME}, {"type": NUL_NAME}], ids=["textSearch", "type"])
def test_listing_with_a_nul_character_is_refused(world, params):
    r = world.admin.get("/api/tenant/devices", params={"pageSize": 10, "page": 0, **params})
    assert_error(r, 400, 31, contains="NUL character")
    if "textSearch" in params:
        r = world.admin.get("/api/customers", params={"pageSize": 10, "page": 0, **params})
        assert_error(r, 400, 31, contains="NUL character")


def test_login_with_a_nul_character_is_refused(live_server):
    r = httpx.post(
        live_server.base_url + "/api/auth/login",
        json={"username": f"a{NUL_NAME}@example.com", "password": "whatever-1"},
    )
    assert_error(r, 400, 31, contains="NUL character")


def test_attribute_keys_with_a_nul_character(world):
    device = world.device()
    rows = world.admin.get(f"{TELEMETRY}/DEVICE/{device.id}/values/attributes/SERVER_SCOPE", params={"keys": NUL_NAME})
    assert_error(rows, 400, 31, contains="NUL character")
    r = world.admin.delete(f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", params={"keys": NUL_NAME})
    assert_error(r, 400, 31, contains="NUL character")
    r = world.admin.post(f"{TELEMETRY}/DEVICE/{device.id}/SERVER_SCOPE", json={NUL_NAME: 1})
    _accepted_or_refused(r, lambda: world.server_attributes(device) == {NUL_NAME: 1})


def _accepted_or_refused(r: httpx.Response, round_trips) -> None:
    """Either stored faithfully (200) or refused with ThingsBoard's 400 error body; never a 500."""
    if r.status_code == 200:
        assert round_trips(), "accepted but not stored as sent"
    else:
        assert_error(r, 400, 31)


@pytest.mark.parametrize("field", ["name", "type", "label"])
def test_device_fields_with_a_nul_character(world, field):
    body = {"name": uid("nul"), field: f"{field}{NUL_NAME}"}
    r = world.admin.post("/api/device", json=body)

    def round_trips() -> bool:
        return world.admin.ok("get", f"/api/device/{r.json()['id']['id']}")[field] == body[field]

    _accepted_or_refused(r, round_trips)


def test_customer_title_and_user_email_with_a_nul_character(world):
    r = world.admin.post("/api/customer", json={"title": f"title{NUL_NAME}"})
    _accepted_or_refused(
        r, lambda: world.admin.ok("get", f"/api/customer/{r.json()['id']['id']}")["title"] == f"title{NUL_NAME}"
    )
    email = f"a{NUL_NAME}{uuid.uuid4().hex[:6]}@example.com"
    u = world.admin.post(
        "/api/user",
        json={
            "email": email,
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": world.c1_id},
        },
    )
    if u.status_code == 200:
        assert u.json()["email"] == email
    else:
        assert_error(u, 400, 31)


@pytest.mark.parametrize("field", ["type", "label"])
def test_device_fields_longer_than_255_characters_are_400(world, field):
    assert_error(world.admin.post("/api/device", json={"name": uid("long"), field: "t" * 256}), 400, 31)
    assert_error(world.admin.post("/api/device", json={"name": "n" * 256}), 400, 31)


def test_customer_title_and_email_longer_than_255_characters_are_400(world):
    assert_error(world.admin.post("/api/customer", json={"title": "t" * 256}), 400, 31)
    r = world.admin.post(
        "/api/user",
        json={
            "email": "e" * 250 + "@example.com",
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": world.c1_id},
        },
    )
    assert_error(r, 400, 31)


@pytest.mark.parametrize("path", ["/api/tenant/devices", "/api/customers", "/api/audit/logs"])
def test_page_index_out_of_range_is_400(world, path):
    # ThingsBoard's page is a Java int: anything larger is a 400; here the SQL OFFSET overflows
    for page in (2**62, 2**70):
        assert_error(world.admin.get(path, params={"pageSize": 1000, "page": page}), 400, 31)
    # a large page that fits is just empty
    beyond = world.admin.ok("get", path, params={"pageSize": 1000, "page": 2**31 - 1})
    assert beyond["data"] == [] and beyond["hasNext"] is False
