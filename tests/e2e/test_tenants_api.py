"""The system administrator and tenants over HTTP (issue 21): two tenants made through the API, each
tenant admin blind to the other's devices, customers and users; the system administrator blind to
every tenant's fleet; a deleted tenant gone with its users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from http_helpers import NULL_UUID, USER_PASSWORD, Api, assert_error, device_message, new_customer_user, uid
from servers import SYSADMIN_EMAIL, SYSADMIN_PASSWORD


@dataclass
class TenantWorld:
    tenant: dict[str, Any]
    admin: Api
    customer: dict[str, Any]
    user: Api
    user_id: str
    device: dict[str, Any]
    token: str
    admin_email: str

    @property
    def tenant_id(self) -> str:
        return self.tenant["id"]["id"]


def make_tenant(sysadmin: Api, title: str) -> TenantWorld:
    """A tenant as an operator makes one: the system administrator creates it and its admin, whose
    activation link it hands over; the tenant admin then makes a customer, a user and a device."""
    tenant = sysadmin.ok("post", "/api/tenant", json={"title": title, "email": "ops@example.com", "country": "NO"})
    email = f"{uid('tadmin')}@example.com"
    user = sysadmin.ok(
        "post",
        "/api/user",
        params={"sendActivationMail": "false"},
        json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
    )
    assert user["authority"] == "TENANT_ADMIN" and user["tenantId"] == tenant["id"]
    assert user["customerId"]["id"] == NULL_UUID
    link = sysadmin.get(f"/api/user/{user['id']['id']}/activationLink")
    assert link.status_code == 200, link.text
    r = httpx.post(
        sysadmin.base_url + "/api/noauth/activate",
        json={"activateToken": link.text.split("activateToken=")[1], "password": USER_PASSWORD},
    )
    assert r.status_code == 200, r.text
    admin = Api.login(sysadmin.base_url, email, USER_PASSWORD)
    customer = admin.ok("post", "/api/customer", json={"title": "Same title in both tenants"})
    customer_user = new_customer_user(admin, customer["id"]["id"])
    token = uid("tok")
    device = admin.ok("post", "/api/device", params={"accessToken": token}, json={"name": "Same device name"})
    return TenantWorld(
        tenant,
        admin,
        customer,
        customer_user,
        customer_user.ok("get", "/api/auth/user")["id"]["id"],
        device,
        token,
        email,
    )


@pytest.fixture(scope="module")
def sysadmin(live_server) -> Api:
    return Api.login(live_server.base_url, SYSADMIN_EMAIL, SYSADMIN_PASSWORD)


@pytest.fixture(scope="module")
def tenants(sysadmin) -> tuple[TenantWorld, TenantWorld]:
    return make_tenant(sysadmin, uid("Tenant A")), make_tenant(sysadmin, uid("Tenant B"))


def test_the_system_administrator_is_made_on_first_start_and_belongs_to_no_tenant(sysadmin):
    me = sysadmin.ok("get", "/api/auth/user")
    assert me["authority"] == "SYS_ADMIN" and me["email"] == SYSADMIN_EMAIL
    assert me["tenantId"]["id"] == NULL_UUID and me["customerId"]["id"] == NULL_UUID


def test_tenants_are_created_listed_read_and_updated(sysadmin, tenants):
    a, b = tenants
    assert a.tenant["title"].startswith("Tenant A") and a.tenant["name"] == a.tenant["title"]
    assert a.tenant["email"] == "ops@example.com" and a.tenant["country"] == "NO"
    assert sysadmin.ok("get", f"/api/tenant/{a.tenant_id}") == a.tenant
    listed = sysadmin.ok("get", "/api/tenants", params={"pageSize": 100, "page": 0, "textSearch": "tenant "})
    assert {a.tenant_id, b.tenant_id} <= {t["id"]["id"] for t in listed["data"]}
    assert "Default" not in {t["title"] for t in listed["data"]}  # "tenant " is not in "Default"
    infos = sysadmin.ok("get", "/api/tenantInfos", params={"pageSize": 100, "page": 0})
    assert a.tenant_id in {t["id"]["id"] for t in infos["data"]} and "Default" in {t["title"] for t in infos["data"]}
    admins = sysadmin.ok("get", f"/api/tenant/{a.tenant_id}/users", params={"pageSize": 10, "page": 0})
    assert [u["email"] for u in admins["data"]] == [a.admin.ok("get", "/api/auth/user")["email"]]

    updated = sysadmin.ok("post", "/api/tenant", json={**a.tenant, "city": "Oslo", "title": a.tenant["title"]})
    assert updated["city"] == "Oslo" and updated["id"] == a.tenant["id"]
    assert updated["createdTime"] == a.tenant["createdTime"]
    a.tenant = updated
    # a tenant admin reads its own tenant, not another
    assert a.admin.ok("get", f"/api/tenant/{a.tenant_id}")["title"] == a.tenant["title"]
    assert_error(a.admin.get(f"/api/tenant/{b.tenant_id}"), 403)


def test_tenant_mistakes_are_clear_errors(sysadmin, tenants):
    a, _ = tenants
    assert_error(sysadmin.post("/api/tenant", json={"title": a.tenant["title"]}), 400, contains="already exists")
    assert_error(sysadmin.post("/api/tenant", json={"title": "  "}), 400, contains="title")
    assert_error(sysadmin.get(f"/api/tenant/{NULL_UUID}"), 404)
    assert_error(
        sysadmin.post("/api/user", json={"email": f"{uid()}@example.com", "authority": "TENANT_ADMIN"}),
        400,
        contains="tenantId",
    )
    assert_error(
        sysadmin.post(
            "/api/user",
            json={
                "email": f"{uid()}@example.com",
                "authority": "TENANT_ADMIN",
                "tenantId": {"entityType": "TENANT", "id": NULL_UUID},
            },
        ),
        400,
    )
    assert_error(
        sysadmin.post(
            "/api/user",
            json={
                "email": f"{uid()}@example.com",
                "authority": "TENANT_ADMIN",
                "tenantId": {"entityType": "TENANT", "id": "0d4e6a52-8b1c-4c0e-9a59-2f3b9d8b7c61"},
            },
        ),
        404,
    )
    # the system administrator makes tenant admins, not customer users
    assert_error(
        sysadmin.post(
            "/api/user",
            json={
                "email": f"{uid()}@example.com",
                "authority": "CUSTOMER_USER",
                "tenantId": a.tenant["id"],
                "customerId": a.customer["id"],
            },
        ),
        403,
    )


def test_only_the_system_administrator_manages_tenants(tenants):
    a, b = tenants
    for api in (a.admin, a.user):
        assert_error(api.post("/api/tenant", json={"title": uid("Rogue")}), 403)
        assert_error(api.get("/api/tenants"), 403)
        assert_error(api.delete(f"/api/tenant/{b.tenant_id}"), 403)
        assert_error(api.get(f"/api/tenant/{b.tenant_id}/users"), 403)
    # a tenant admin cannot make an admin of another tenant
    assert_error(
        a.admin.post(
            "/api/user", json={"email": f"{uid()}@example.com", "authority": "TENANT_ADMIN", "tenantId": b.tenant["id"]}
        ),
        403,
    )


def test_each_tenant_admin_is_blind_to_the_other_tenant(tenants):
    a, b = tenants
    for me, other in ((a, b), (b, a)):
        device_id, customer_id = other.device["id"]["id"], other.customer["id"]["id"]
        assert_error(me.admin.get(f"/api/device/{device_id}"), 404)
        assert_error(me.admin.get(f"/api/device/{device_id}/credentials"), 404)
        assert_error(me.admin.post(f"/api/customer/{me.customer['id']['id']}/device/{device_id}"), 404)
        assert_error(me.admin.delete(f"/api/device/{device_id}"), 404)
        assert_error(me.admin.get(f"/api/customer/{customer_id}"), 404)
        assert_error(me.admin.get(f"/api/customer/{customer_id}/users"), 404)
        assert_error(me.admin.delete(f"/api/customer/{customer_id}"), 404)
        assert_error(me.admin.get(f"/api/user/{other.user_id}"), 404)
        assert_error(me.admin.get(f"/api/user/{other.user_id}/activationLink"), 404)
        assert_error(me.admin.delete(f"/api/user/{other.user_id}"), 404)
        # what it lists is its own
        devices = me.admin.ok("get", "/api/tenant/devices", params={"pageSize": 100, "page": 0})
        assert [d["id"]["id"] for d in devices["data"]] == [me.device["id"]["id"]]
        by_name = me.admin.ok("get", "/api/tenant/devices", params={"deviceName": "Same device name"})
        assert by_name["id"] == me.device["id"]
        customers = me.admin.ok("get", "/api/customers", params={"pageSize": 100, "page": 0})
        assert [c["id"]["id"] for c in customers["data"]] == [me.customer["id"]["id"]]
        audit = me.admin.ok("get", "/api/audit/logs", params={"pageSize": 100, "page": 0})
        assert device_id not in str(audit) and customer_id not in str(audit)
        # the other tenant's device data never shows
        assert other.token not in str(devices)


def test_claims_resolve_within_the_claimers_tenant(tenants):
    a, b = tenants
    # both tenants have a device called "Same device name"; B's opens a window with key "kb"
    r = device_message(b.admin.base_url, b.token, {"secretKey": "kb", "durationMs": 60_000})
    assert r.status_code == 200, r.text
    refused = a.user.claim("Same device name", {"secretKey": "kb"})  # A's device, which has no window
    assert (refused.status_code, refused.json()) == (400, "FAILURE")
    assert b.admin.ok("get", f"/api/device/{b.device['id']['id']}")["customerId"]["id"] == NULL_UUID
    claimed = b.user.claim("Same device name", {"secretKey": "kb"})
    assert claimed.status_code == 200, claimed.text
    assert b.admin.ok("get", f"/api/device/{b.device['id']['id']}")["customerId"]["id"] == b.customer["id"]["id"]
    assert a.admin.ok("get", f"/api/device/{a.device['id']['id']}")["customerId"]["id"] == NULL_UUID


def test_the_system_administrator_sees_no_tenants_fleet(live_server, sysadmin, tenants):
    """Every GET of the API, its path filled with tenant A's real ids and names, asked by the system
    administrator: never a 5xx, and never a byte of A's devices, customers or users."""
    a, _ = tenants
    assert_error(sysadmin.claim("Same device name", {"secretKey": "x"}), 403)
    assert_error(sysadmin.post("/api/device", json={"name": uid("sysdev")}), 403)
    assert_error(sysadmin.post("/api/customer", json={"title": uid("syscust")}), 403)
    secrets_of_a = [a.device["id"]["id"], a.customer["id"]["id"], a.user_id, a.token]
    values = {
        "deviceid": a.device["id"]["id"],
        "customerid": a.customer["id"]["id"],
        "userid": a.user_id,
        "devicename": "Same device name",
        "accesstoken": a.token,
        "entitytype": "DEVICE",
        "entityid": a.device["id"]["id"],
        "scope": "SERVER_SCOPE",
    }
    spec = httpx.get(live_server.base_url + "/openapi.json").json()
    asked = 0
    for path, operations in spec["paths"].items():
        if "get" not in operations or "{tenantId}" in path or path.startswith("/api/v1/"):
            continue  # tenants are the system administrator's; /api/v1 is the devices' own API (by token)
        url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1).lower(), a.device["id"]["id"]), path)
        r = sysadmin.get(url, params={"pageSize": 100, "page": 0})
        asked += 1
        assert r.status_code < 500, (url, r.status_code, r.text)
        leaked = [s for s in secrets_of_a if s in r.text and s not in url]  # an error may echo its URL
        assert not leaked, (url, r.status_code, r.text)
    assert asked > 20


def test_deleting_a_tenant_removes_its_users_devices_and_customers(live_server, sysadmin):
    doomed = make_tenant(sysadmin, uid("Tenant doomed"))
    survivor = make_tenant(sysadmin, uid("Tenant survivor"))
    assert doomed.admin.get("/api/auth/user").status_code == 200
    r = sysadmin.delete(f"/api/tenant/{doomed.tenant_id}")
    assert r.status_code == 200, r.text
    assert_error(sysadmin.get(f"/api/tenant/{doomed.tenant_id}"), 404)
    assert_error(sysadmin.delete(f"/api/tenant/{doomed.tenant_id}"), 404)
    # its admin and users are gone: their sessions end and they cannot log in
    assert_error(doomed.admin.get("/api/auth/user"), 401)
    assert_error(doomed.user.get("/api/auth/user"), 401)
    r = httpx.post(
        live_server.base_url + "/api/auth/login", json={"username": doomed.admin_email, "password": USER_PASSWORD}
    )
    assert_error(r, 401)
    # its device no longer answers on the device API
    r = device_message(live_server.base_url, doomed.token, {"secretKey": "k"})
    assert r.status_code in (401, 404), r.text
    # the other tenant is untouched
    assert survivor.admin.ok("get", f"/api/device/{survivor.device['id']['id']}")["name"] == "Same device name"
    assert survivor.user.ok("get", "/api/auth/user")["customerId"] == survivor.customer["id"]
