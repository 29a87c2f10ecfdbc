"""schemathesis over claimd's whole OpenAPI (the app's own /openapi.json): no input, valid or not,
gets a 5xx (issue 20), and every answer matches the schema the document declares for its status and
media type (issue 21: schemathesis's ``response_schema_conformance``; the declared response models
forbid undeclared keys, so a key added or dropped on the wire without its declaration fails here).

It runs against a real ``claimd serve`` on PostgreSQL (which, unlike SQLite, refuses NUL in text and
text longer than its column), and sends every generated request twice: as the tenant admin and as a
customer user, so that it gets past 401 into the routes. Data is generated both valid (positive) and
invalid (negative, where the schema is violated on purpose); on top of that, half the generated
cases have every text in them replaced by one hostile text (see ``HOSTILE``), which no schema asks for
and which is what a schema-led fuzzer rarely hits: NUL, lone surrogates, text longer than a column.

The normal suite runs a short budget: schemathesis's coverage phase (boundary and invalid values of
every parameter) and 5 generated examples per operation, within a minute. The long run is the same
test with more examples, and with every HTTP method tried on every path::

    CLAIMD_SCHEMATHESIS_EXAMPLES=300 python -m pytest tests/e2e/test_schemathesis.py -q
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import requests
import schemathesis
from http_helpers import Api, World, make_world, uid
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import response_schema_conformance
from servers import (
    SYSADMIN_EMAIL,
    SYSADMIN_PASSWORD,
    LiveServer,
    create_pg_database,
    drop_pg_database,
    require_server,
    start_server,
)

from claimd.adapters.attestation import mint_device_jwt, mint_token, new_private_key, public_pem_of

EXAMPLES = int(os.environ.get("CLAIMD_SCHEMATHESIS_EXAMPLES", "5"))
LONG = "CLAIMD_SCHEMATHESIS_EXAMPLES" in os.environ


#: Texts put in place of every text of a case: NUL (PostgreSQL refuses it), text longer than the
#: 255-character columns, and in JSON bodies a lone surrogate (no driver encodes one; a URL cannot carry
#: one). schemathesis cannot hold a lone surrogate either (it validates cases in Rust), so the case
#: carries LONE_SURROGATE, a noncharacter, and :func:`send` writes it as the escape ``\ud800``.
LONE_SURROGATE = "\ufdd0"
HOSTILE = ["\x00", "a\x00b", "x" * 300]
HOSTILE_IN_JSON = [*HOSTILE, LONE_SURROGATE, f"k{LONE_SURROGATE}"]


def _replace_texts(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [_replace_texts(v, text) for v in value]
    if isinstance(value, dict):
        return {f"{text}{i}" if i else text: _replace_texts(v, text) for i, v in enumerate(value.values())}
    return value


def hostile_case(case: schemathesis.Case, text: str) -> schemathesis.Case:
    """``case`` with its path, query and (JSON) body texts replaced by ``text``."""
    in_url = text if "\x00" in text or len(text) > 255 else "x"
    if case.path_parameters:
        case.path_parameters = {k: _replace_texts(v, in_url) for k, v in case.path_parameters.items()}
    if case.query:
        case.query = {k: _replace_texts(v, in_url) for k, v in case.query.items()}
    if isinstance(case.body, dict | list):
        case.body = _replace_texts(case.body, text)
    return case


def with_hostile_texts(context: Any, case: schemathesis.Case) -> st.SearchStrategy:
    """schemathesis's ``flatmap_case`` hook: the case itself, or it with hostile texts."""
    return st.one_of(st.just(case), st.sampled_from(HOSTILE_IN_JSON).map(lambda text: hostile_case(case, text)))


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A ``claimd serve`` of this module alone on its own PostgreSQL database."""
    require_server("postgres")
    database, database_url = create_pg_database()
    try:
        server = start_server(tmp_path_factory.mktemp("claimd-schemathesis"), database_url)
        try:
            yield server
        finally:
            server.stop()
    finally:
        drop_pg_database(database)


@pytest.fixture(scope="module")
def people(pg_server: LiveServer) -> dict[str, str]:
    """Who sends each request: a tenant admin and a customer user (their JWTs)."""
    world = make_world(pg_server.base_url, pg_server.admin_email, pg_server.admin_password)
    return {"tenant admin": world.admin.token, "customer user": world.u1.token}


@pytest.fixture(scope="module")
def api_schema(pg_server: LiveServer) -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_url(pg_server.base_url + "/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    schema.hook("flatmap_case")(with_hostile_texts)
    if not LONG:  # ~1,000 requests that only check 405 answers: the long run's
        schema.config.phases.coverage.unexpected_methods = set()
    return schema


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive session: cheaper requests, and a request that drops the connection shows."""
    with requests.Session() as s:
        yield s


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.postgres
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, suppress_health_check=list(HealthCheck))
def test_no_server_errors(
    case: schemathesis.Case, pg_server: LiveServer, people: dict[str, str], session: requests.Session
) -> None:
    for who, token in people.items():
        response = send(case, session, pg_server.base_url, {"X-Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (
            f"as the {who}: {case.as_curl_command()}\n→ {response.status_code} {response.text[:500]}\n"
            f"server log (end):\n{_log_tail(pg_server.log_path)}"
        )
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except (AssertionError, BaseExceptionGroup) as exc:
            exc.add_note(f"as the {who}: {case.as_curl_command()}\n→ {response.status_code} {response.text[:500]}")
            raise


def send(
    case: schemathesis.Case, session: requests.Session, base_url: str, headers: dict[str, str]
) -> requests.Response:
    """``case.call``, but a JSON body carrying LONE_SURROGATE goes out with ``\ud800`` in its place."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    body = kwargs.get("json")
    if body is not None and LONE_SURROGATE in json.dumps(body, ensure_ascii=False):
        del kwargs["json"]
        kwargs["data"] = json.dumps(body).replace("\\ufdd0", "\\ud800").encode()
    return session.request(**kwargs, timeout=30)


def _log_tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:]


# --- every declared answer, met for real --------------------------------------------------------
# schemathesis's random cases reach few successes with content (most ids they make up are unknown), so
# a scripted tour walks every operation of the API surfaces below to its answers, with data in them,
# and checks each answer against the document, as schemathesis does.

#: The modules whose operations the tour must cover (routes elsewhere: health, metrics).
TOURED_MODULES = {
    f"claimd.entrypoints.http.{m}"
    for m in (
        "claims",
        "device_api",
        "auth",
        "customers",
        "devices",
        "telemetry",
        "bulk",
        "ownership",
        "provisioning",
        "access",
        "lorawan",
        "tenants",
    )
}
#: Operations of those modules that have no success to check, and why.
NO_SUCCESS = {
    "POST /api/user/sendActivationMail": "always 400: claimd sends no e-mail",
    "GET /v1/bulk-ops-requests/{opId}/upload.csv": "always 410: an upload is never served back",
}


class Tour:
    """Checks answers against the document's declaration for their operation, status and media type."""

    def __init__(self, base_url: str) -> None:
        self.schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
        self.met: set[str] = set()

    def check(self, label: str, response: httpx.Response, status: int) -> httpx.Response:
        assert response.status_code == status, f"{label} → {response.status_code} {response.text[:500]}"
        method, path = label.split(" ", 1)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        found = re.fullmatch(pattern, response.request.url.raw_path.decode().split("?")[0])
        assert found, (label, response.request.url)
        case = self.schema[path][method].Case(path_parameters={k: unquote(v) for k, v in found.groupdict().items()})
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except (AssertionError, BaseExceptionGroup) as exc:
            exc.add_note(f"{label} → {response.status_code} {response.text[:1000]}")
            raise
        if 200 <= status < 300:
            self.met.add(label)
        return response


def _csv(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _wait_op(api: Api, op_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.ok("get", f"/v1/bulk-ops-requests/{op_id}")["status"] in ("SUCCEEDED", "FAILED"):
            return
        time.sleep(0.1)
    raise AssertionError(f"bulk operation {op_id} did not finish")


def _toured_operations() -> set[str]:
    from fastapi.routing import APIRoute

    from claimd.entrypoints.http.app import create_app

    return {
        f"{method} {route.path.replace(':path}', '}')}"
        for route in create_app().routes
        if isinstance(route, APIRoute) and route.include_in_schema and route.endpoint.__module__ in TOURED_MODULES
        for method in route.methods
    }


@pytest.mark.postgres
def test_real_answers_match_the_declared_schemas(pg_server: LiveServer) -> None:
    base = pg_server.base_url
    w = make_world(base, pg_server.admin_email, pg_server.admin_password)
    t = Tour(base)
    admin, u1, u2 = w.admin, w.u1, w.u2
    try:
        _tour_accounts(t, w, pg_server)
        _tour_devices_and_claims(t, w)
        _tour_ownership_bulk_and_provisioning(t, w)
        _tour_roles_and_keys(t, w)
        _tour_lorawan(t, w)
        _tour_tenants(t, w)
    finally:
        for api in (admin, u1, u2):
            api.close()
    missing = _toured_operations() - t.met - set(NO_SUCCESS)
    assert not missing, f"operations the tour never met with a success (add them to it): {sorted(missing)}"


def _tour_accounts(t: Tour, w: World, server: LiveServer) -> None:
    base, admin = w.base_url, w.admin
    login = t.check(
        "POST /api/auth/login",
        httpx.post(f"{base}/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}),
        200,
    )
    t.check(
        "POST /api/auth/login",
        httpx.post(f"{base}/api/auth/login", json={"username": server.admin_email, "password": "wrong"}),
        401,
    )
    t.check(
        "POST /api/auth/token",
        httpx.post(f"{base}/api/auth/token", json={"refreshToken": login.json()["refreshToken"]}),
        200,
    )
    t.check("GET /api/auth/user", admin.get("/api/auth/user"), 200)
    t.check("GET /api/auth/user", httpx.get(f"{base}/api/auth/user"), 401)

    customer = t.check(
        "POST /api/customer",
        admin.post(
            "/api/customer",
            json={"title": uid("Tour"), "email": "tour@example.com", "additionalInfo": {"note": "x", "ratio": 0.5}},
        ),
        200,
    ).json()
    cid = customer["id"]["id"]
    t.check("POST /api/customer", admin.post("/api/customer", json={"title": customer["title"]}), 400)
    t.check("GET /api/customer/{customerId}", admin.get(f"/api/customer/{cid}"), 200)
    t.check("GET /api/customer/{customerId}", admin.get(f"/api/customer/{uuid.uuid4()}"), 404)
    t.check("GET /api/customers", admin.get("/api/customers", params={"pageSize": 2}), 200)
    user = t.check(
        "POST /api/user",
        admin.post(
            "/api/user",
            json={
                "email": f"{uid('tour')}@example.com",
                "authority": "CUSTOMER_USER",
                "firstName": "Ada",
                "customerId": {"entityType": "CUSTOMER", "id": cid},
            },
        ),
        200,
    ).json()
    user_id = user["id"]["id"]
    t.check(
        "POST /api/user/sendActivationMail",
        admin.post("/api/user/sendActivationMail", params={"email": user["email"]}),
        400,
    )
    t.check("GET /api/user/{userId}", admin.get(f"/api/user/{user_id}"), 200)
    t.check("GET /api/customer/{customerId}/users", admin.get(f"/api/customer/{cid}/users"), 200)
    link = t.check("GET /api/user/{userId}/activationLink", admin.get(f"/api/user/{user_id}/activationLink"), 200)
    t.check("GET /api/user/{userId}/activationLink", admin.get(f"/api/user/{uuid.uuid4()}/activationLink"), 404)
    activated = t.check(
        "POST /api/noauth/activate",
        httpx.post(
            f"{base}/api/noauth/activate",
            json={"activateToken": link.text.split("activateToken=")[1], "password": "tour-password-1"},
        ),
        200,
    ).json()
    changed = t.check(
        "POST /api/auth/changePassword",
        httpx.post(
            f"{base}/api/auth/changePassword",
            json={"currentPassword": "tour-password-1", "newPassword": "tour-password-2"},
            headers={"X-Authorization": f"Bearer {activated['token']}"},
        ),
        200,
    )
    assert changed.json()["token"]
    reset = t.check(
        "GET /api/user/{userId}/passwordResetLink", admin.get(f"/api/user/{user_id}/passwordResetLink"), 200
    )
    t.check(
        "POST /api/noauth/resetPassword",
        httpx.post(
            f"{base}/api/noauth/resetPassword",
            json={"resetToken": reset.text.split("resetToken=")[1], "password": "tour-password-3"},
        ),
        200,
    )
    t.check(
        "POST /api/noauth/resetPassword",
        httpx.post(f"{base}/api/noauth/resetPassword", json={"resetToken": "nope", "password": "tour-password-3"}),
        400,
    )
    t.check("DELETE /api/user/{userId}", admin.delete(f"/api/user/{user_id}"), 200)
    t.check("DELETE /api/customer/{customerId}", admin.delete(f"/api/customer/{cid}"), 200)


def _tour_tenants(t: Tour, w: World) -> None:
    sysadmin = Api.login(w.base_url, SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
    try:
        tenant = t.check(
            "POST /api/tenant",
            sysadmin.post(
                "/api/tenant",
                json={
                    "title": uid("Tour tenant"),
                    "email": "ops@example.com",
                    "city": "Oslo",
                    "additionalInfo": {"description": "x"},
                },
            ),
            200,
        ).json()
        tid = tenant["id"]["id"]
        t.check("POST /api/tenant", sysadmin.post("/api/tenant", json={"title": tenant["title"]}), 400)
        t.check("POST /api/tenant", w.admin.post("/api/tenant", json={"title": uid("Rogue")}), 403)
        t.check("GET /api/tenant/{tenantId}", sysadmin.get(f"/api/tenant/{tid}"), 200)
        t.check("GET /api/tenant/{tenantId}", sysadmin.get(f"/api/tenant/{uuid.uuid4()}"), 404)
        t.check("GET /api/tenant/info/{tenantId}", sysadmin.get(f"/api/tenant/info/{tid}"), 200)
        t.check("GET /api/tenants", sysadmin.get("/api/tenants", params={"pageSize": 2}), 200)
        t.check("GET /api/tenantInfos", sysadmin.get("/api/tenantInfos", params={"pageSize": 2}), 200)
        t.check(
            "POST /api/user",
            sysadmin.post(
                "/api/user",
                json={
                    "email": f"{uid('tour-admin')}@example.com",
                    "authority": "TENANT_ADMIN",
                    "tenantId": tenant["id"],
                },
            ),
            200,
        )
        t.check("GET /api/tenant/{tenantId}/users", sysadmin.get(f"/api/tenant/{tid}/users"), 200)
        t.check("DELETE /api/tenant/{tenantId}", sysadmin.delete(f"/api/tenant/{tid}"), 200)
        t.check("DELETE /api/tenant/{tenantId}", sysadmin.delete(f"/api/tenant/{tid}"), 404)
    finally:
        sysadmin.close()


def _tour_devices_and_claims(t: Tour, w: World) -> None:
    base, admin, u1 = w.base_url, w.admin, w.u1
    name, token = uid("tour-dev"), uid("tour-tok")
    device = t.check(
        "POST /api/device",
        admin.post(
            "/api/device",
            params={"accessToken": token},
            json={"name": name, "label": "L", "additionalInfo": {"gateway": False}},
        ),
        200,
    ).json()
    device_id = device["id"]["id"]
    t.check("POST /api/device", admin.post("/api/device", json={"id": device["id"], "name": name, "type": "t2"}), 200)
    t.check("GET /api/device/{deviceId}", admin.get(f"/api/device/{device_id}"), 200)
    t.check("GET /api/tenant/devices", admin.get("/api/tenant/devices", params={"pageSize": 3}), 200)
    t.check("GET /api/tenant/devices", admin.get("/api/tenant/devices", params={"deviceName": name}), 200)
    t.check("GET /api/tenant/device", admin.get("/api/tenant/device", params={"deviceName": name}), 200)
    t.check("GET /api/device/{deviceId}/credentials", admin.get(f"/api/device/{device_id}/credentials"), 200)
    t.check("GET /api/device/{deviceId}/credentials", u1.get(f"/api/device/{device_id}/credentials"), 403)

    attributes = "/api/plugins/telemetry"
    t.check(
        "POST /api/plugins/telemetry/{entityType}/{entityId}/{scope}",
        admin.post(f"{attributes}/DEVICE/{device_id}/SERVER_SCOPE", json={"a": 1, "b": {"c": [1.5, "x"]}}),
        200,
    )
    t.check(
        "POST /api/plugins/telemetry/{entityType}/{entityId}/attributes/{scope}",
        admin.post(f"{attributes}/DEVICE/{device_id}/attributes/SHARED_SCOPE", json={"s": "v"}),
        200,
    )
    t.check(
        "POST /api/plugins/telemetry/{deviceId}/{scope}",
        admin.post(f"{attributes}/{device_id}/SERVER_SCOPE", json={"d": True}),
        200,
    )
    t.check(
        "GET /api/plugins/telemetry/{entityType}/{entityId}/values/attributes/{scope}",
        admin.get(f"{attributes}/DEVICE/{device_id}/values/attributes/SERVER_SCOPE"),
        200,
    )
    t.check(
        "GET /api/plugins/telemetry/{entityType}/{entityId}/values/attributes",
        admin.get(f"{attributes}/DEVICE/{device_id}/values/attributes"),
        200,
    )
    t.check(
        "DELETE /api/plugins/telemetry/{entityType}/{entityId}/{scope}",
        admin.delete(f"{attributes}/DEVICE/{device_id}/SERVER_SCOPE", params={"keys": "a"}),
        200,
    )
    t.check(
        "DELETE /api/plugins/telemetry/{deviceId}/{scope}",
        admin.delete(f"{attributes}/{device_id}/SHARED_SCOPE", params={"keys": "s"}),
        200,
    )

    # the device opens its window; a wrong key fails, the right one claims, the owner reclaims
    claim_window = "POST /api/v1/{accessToken}/claim"
    t.check(claim_window, httpx.post(f"{base}/api/v1/{token}/claim", json={"secretKey": "k", "durationMs": 60000}), 200)
    t.check(
        claim_window,
        httpx.post(f"{base}/api/v1/{token}/claim", content=b"{nope", headers={"Content-Type": "application/json"}),
        400,
    )
    t.check(claim_window, httpx.post(f"{base}/api/v1/unknown-{token}/claim", json={}), 401)
    claim = "POST /api/customer/device/{deviceName}/claim"
    t.check(claim, u1.claim(name, {"secretKey": "wrong"}), 400)
    t.check(claim_window, httpx.post(f"{base}/api/v1/{token}/claim", json={"secretKey": "k", "durationMs": 60000}), 200)
    t.check(claim, u1.claim(name, raw=b"[1]"), 400)
    t.check(claim, u1.claim(name, {"secretKey": "k"}), 200)
    t.check(claim, w.u2.claim(name, {"secretKey": "k"}), 400)
    t.check("DELETE /api/customer/device/{deviceName}/claim", u1.reclaim(name), 200)

    cid = w.c1_id
    t.check(
        "POST /api/customer/{customerId}/device/{deviceId}", admin.post(f"/api/customer/{cid}/device/{device_id}"), 200
    )
    t.check("GET /api/customer/{customerId}/devices", admin.get(f"/api/customer/{cid}/devices"), 200)
    t.check("DELETE /api/customer/device/{deviceId}", admin.delete(f"/api/customer/device/{device_id}"), 200)
    t.check(
        "POST /api/owner/CUSTOMER/{ownerId}/DEVICE/{deviceId}",
        admin.post(f"/api/owner/CUSTOMER/{cid}/DEVICE/{device_id}"),
        200,
    )
    t.check(
        "POST /api/owner/TENANT/{ownerId}/DEVICE/{deviceId}",
        admin.post(f"/api/owner/TENANT/{uuid.uuid4()}/DEVICE/{device_id}"),
        404,
    )
    t.check(
        "POST /api/owner/TENANT/{ownerId}/DEVICE/{deviceId}",
        admin.post(f"/api/owner/TENANT/{w.tenant_id}/DEVICE/{device_id}"),
        200,
    )
    t.check("GET /api/audit/logs", admin.get("/api/audit/logs", params={"pageSize": 50}), 200)
    t.check(
        "GET /api/audit/logs/entity/DEVICE/{deviceId}", admin.get(f"/api/audit/logs/entity/DEVICE/{device_id}"), 200
    )
    t.check("DELETE /api/device/{deviceId}", admin.delete(f"/api/device/{device_id}"), 200)
    t.check("GET /api/device/{deviceId}", admin.get(f"/api/device/{device_id}"), 404)


def _tour_ownership_bulk_and_provisioning(t: Tour, w: World) -> None:
    base, admin, u1 = w.base_url, w.admin, w.u1
    key, device_id = new_private_key(), uuid.uuid4()
    t.check(
        "POST /v1/device-identities",
        admin.post(
            "/v1/device-identities",
            json={"id": str(device_id), "publicKey": public_pem_of(key), "imei": "352656106118683", "tags": ["t=1"]},
        ),
        201,
    )
    t.check("POST /v1/device-identities", admin.post("/v1/device-identities", json={"id": "nope"}), 400)
    t.check("GET /v1/device-identities/{deviceId}", admin.get(f"/v1/device-identities/{device_id}"), 200)
    claim = "POST /v1/claimed-devices"
    t.check(
        claim,
        u1.post("/v1/claimed-devices", params={"dryrun": "true"}, json={"claimToken": mint_token(key, device_id)}),
        202,
    )
    t.check(
        claim, u1.post("/v1/claimed-devices", json={"claimToken": mint_token(key, device_id), "tags": ["a=b"]}), 201
    )
    t.check(
        "POST /v1/identities/claimed-devices",
        u1.post("/v1/identities/claimed-devices", json={"claimToken": mint_token(key, device_id)}),
        200,
    )
    t.check(claim, w.u2.post("/v1/claimed-devices", json={"claimToken": mint_token(key, device_id)}), 409)
    t.check(claim, u1.post("/v1/claimed-devices", json={"claimToken": "x"}), 400)
    t.check("POST /v1/claim-challenges", u1.post("/v1/claim-challenges"), 201)

    path = f"/v1/claimed-devices/{device_id}"
    t.check("GET /v1/claimed-devices", u1.get("/v1/claimed-devices", params={"pageLimit": 1}), 200)
    t.check("GET /v1/claimed-devices/{deviceId}", u1.get(path), 200)
    t.check("POST /v1/claimed-devices/{deviceId}/block", u1.post(f"{path}/block"), 200)
    t.check("POST /v1/claimed-devices/{deviceId}/unblock", u1.post(f"{path}/unblock"), 200)
    t.check("PUT /v1/claimed-devices/{deviceId}/tags", u1.put(f"{path}/tags", json={"tags": ["x=1"]}), 200)
    t.check("POST /v1/claimed-devices/{deviceId}/tags", u1.post(f"{path}/tags", json={"tags": ["y=2"]}), 200)
    tag = uid("tag")
    t.check("POST /v1/claimed-devices/tags", u1.post("/v1/claimed-devices/tags", json={"tag": tag}), 201)
    t.check("POST /v1/claimed-devices/tags", u1.post("/v1/claimed-devices/tags", json={"tag": tag}), 200)
    t.check("GET /v1/claimed-devices/tags", u1.get("/v1/claimed-devices/tags"), 200)
    t.check("GET /v1/claimed-devices/tags/{tag}", u1.get(f"/v1/claimed-devices/tags/{tag}"), 200)
    t.check(
        "PUT /v1/claimed-devices/tags/{tag}", u1.put(f"/v1/claimed-devices/tags/{tag}", json={"description": "d"}), 200
    )
    t.check("DELETE /v1/claimed-devices/tags/{tag}", u1.delete(f"/v1/claimed-devices/tags/{tag}"), 204)

    # provisioning commands: the owner's side, then the device's (its identity key's JWT, then an access token)
    commands = f"{path}/provisioning"
    first = t.check(
        "POST /v1/claimed-devices/{deviceId}/provisioning",
        u1.post(commands, json={"description": "interval", "request": {"config": {"interval": 60}}}),
        201,
    ).json()
    t.check("GET /v1/claimed-devices/{deviceId}/provisioning", u1.get(commands, params={"pageLimit": 1}), 200)
    t.check("GET /v1/claimed-devices/{deviceId}/provisioning/{commandId}", u1.get(f"{commands}/{first['id']}"), 200)
    jwt = {"Authorization": f"Bearer {mint_device_jwt(key, device_id)}"}
    fetched = t.check("GET /v1/provisioning/commands", httpx.get(f"{base}/v1/provisioning/commands", headers=jwt), 200)
    t.check(
        "GET /v1/provisioning/commands",
        httpx.get(f"{base}/v1/provisioning/commands", headers={**jwt, "Accept": "application/cbor"}),
        200,
    )
    answers = [
        {"correlationId": step["correlationId"], "type": "CONFIG_ACK" if step["type"] == "CONFIG" else "AT"}
        for step in fetched.json()
    ]
    t.check(
        "POST /v1/provisioning/response", httpx.post(f"{base}/v1/provisioning/response", json=answers, headers=jwt), 200
    )
    second = u1.post(
        commands, json={"request": {"preSharedKey": {"secTag": 7, "identity": "d", "secret": "a1"}}}
    ).json()
    t.check(
        "DELETE /v1/claimed-devices/{deviceId}/provisioning/{commandId}", u1.delete(f"{commands}/{second['id']}"), 200
    )
    t.check(
        "POST /v1/claimed-devices/{deviceId}/provisioning/{commandId}/reset",
        u1.post(f"{commands}/{first['id']}/reset"),
        200,
    )
    t.check("GET /v1/provisioning/commands", httpx.get(f"{base}/v1/provisioning/commands"), 401)

    device = w.device(name=uid("tour-prov"))
    assert admin.ok("post", f"/api/customer/{w.c1_id}/device/{device.id}")
    queued = u1.post(f"/v1/claimed-devices/{device.id}/provisioning", json={"request": {"finished": {}}}).json()
    by_token = f"{base}/api/v1/{device.token}/provisioning"
    t.check("GET /api/v1/{accessToken}/provisioning/commands", httpx.get(f"{by_token}/commands"), 200)
    t.check(
        "POST /api/v1/{accessToken}/provisioning/response",
        httpx.post(f"{by_token}/response", json=[{"correlationId": queued["id"], "type": "FINISHED_ACK"}]),
        200,
    )
    t.check("GET /api/v1/{accessToken}/provisioning/commands", httpx.get(f"{by_token}/commands"), 204)
    t.check(
        "GET /api/v1/{accessToken}/provisioning/commands", httpx.get(f"{base}/api/v1/nope/provisioning/commands"), 401
    )

    # bulk: identities, then claims with a failing row; the job, its results and its error summary
    more = [uuid.uuid4(), uuid.uuid4()]
    registered = t.check(
        "POST /v1/device-identities/bulk",
        admin.post(
            "/v1/device-identities/bulk",
            content=_csv(["id", "publicKey"], *[[str(d), public_pem_of(key)] for d in more]),
            headers={"Content-Type": "text/csv"},
        ),
        202,
    )
    _wait_op(admin, registered.json()["bulkOpsRequestId"])
    submitted = t.check(
        "POST /v1/claimed-devices/bulk",
        u1.post(
            "/v1/claimed-devices/bulk",
            content=_csv([mint_token(key, more[0]), "k=v"], ["not-a-token"]),
            headers={"Content-Type": "text/csv"},
        ),
        202,
    )
    t.check(
        claim,
        u1.post("/v1/claimed-devices", content=_csv([mint_token(key, more[1])]), headers={"Content-Type": "text/csv"}),
        202,
    )
    op_id = submitted.json()["bulkOpsRequestId"]
    _wait_op(u1, op_id)
    ops = "/v1/bulk-ops-requests"
    t.check("GET /v1/bulk-ops-requests", u1.get(ops), 200)
    t.check("GET /v1/bulk-ops-requests/{opId}", u1.get(f"{ops}/{op_id}"), 200)
    t.check("GET /v1/bulk-ops-requests/{opId}", w.u2.get(f"{ops}/{op_id}"), 404)
    t.check("GET /v1/bulk-ops-requests/{opId}/upload.csv", u1.get(f"{ops}/{op_id}/upload.csv"), 410)
    t.check("GET /v1/bulk-ops-requests/{opId}/results.json", u1.get(f"{ops}/{op_id}/results.json"), 200)
    t.check(
        "GET /v1/bulk-ops-requests/{opId}/results.json",
        u1.get(f"{ops}/{op_id}/results.json", params={"format": "csv"}),
        200,
    )
    t.check("GET /v1/bulk-ops-requests/{opId}/errors.json", u1.get(f"{ops}/{op_id}/errors.json"), 200)

    t.check("DELETE /v1/claimed-devices/{deviceId}", u1.delete(path), 204)
    t.check("GET /v1/claimed-devices/{deviceId}", u1.get(path), 404)


def _tour_roles_and_keys(t: Tour, w: World) -> None:
    admin = w.admin
    name = uid("ROLE").upper().replace("-", "_")
    t.check("GET /v1/roles", admin.get("/v1/roles"), 200)
    t.check("POST /v1/roles", admin.post("/v1/roles", json={"name": name, "permissions": ["DEVICE:READ"]}), 201)
    t.check("GET /v1/roles/{name}", admin.get(f"/v1/roles/{name}"), 200)
    t.check(
        "PUT /v1/roles/{name}",
        admin.put(f"/v1/roles/{name}", json={"description": "d", "permissions": ["DEVICE:READ", "DEVICE:CLAIM"]}),
        200,
    )
    t.check("DELETE /v1/roles/{name}", admin.delete(f"/v1/roles/{name}"), 204)
    t.check("GET /v1/roles/{name}", admin.get(f"/v1/roles/{name}"), 404)
    user_id = w.u2.ok("get", "/api/auth/user")["id"]["id"]
    t.check("PUT /v1/users/{userId}/role", admin.put(f"/v1/users/{user_id}/role", json={"role": "OWNER"}), 200)
    created = t.check("POST /v1/api-keys", admin.post("/v1/api-keys", json={"name": "tour"}), 201).json()
    t.check("GET /v1/api-keys", admin.get("/v1/api-keys", params={"allUsers": "true"}), 200)
    t.check("DELETE /v1/api-keys/{keyId}", admin.delete(f"/v1/api-keys/{created['id']}"), 204)


def _tour_lorawan(t: Tour, w: World) -> None:
    admin, u1 = w.admin, w.u1
    join_eui, app = "70B3D57ED0000000", uid("app")

    def eui() -> str:
        return secrets.token_hex(8).upper()

    def register() -> dict[str, Any]:
        return t.check(
            "POST /v1/lorawan-devices",
            admin.post(
                "/v1/lorawan-devices",
                json={
                    "ids": {"dev_eui": eui(), "join_eui": join_eui},
                    "serial_number": "S1",
                    "lora_alliance_profile_ids": {"vendor_id": 1, "vendor_profile_id": 2},
                },
            ),
            201,
        ).json()

    def proof(device: dict[str, Any]) -> dict[str, Any]:
        return {
            "authenticated_identifiers": {
                "join_eui": join_eui,
                "dev_eui": device["ids"]["dev_eui"],
                "authentication_code": device["claim_authentication_code"]["value"],
            },
            "target_application_ids": {"application_id": app},
        }

    one, two, three, four = register(), register(), register(), register()
    t.check("POST /v1/lorawan-devices", admin.post("/v1/lorawan-devices", json={"ids": {}}), 400)
    t.check("GET /v1/lorawan-devices/{dev_eui}", admin.get(f"/v1/lorawan-devices/{one['ids']['dev_eui']}"), 200)
    one = t.check(
        "POST /v1/lorawan-devices/{dev_eui}/claim-code",
        admin.post(f"/v1/lorawan-devices/{one['ids']['dev_eui']}/claim-code"),
        200,
    ).json()
    claim = "/api/v3/edcs/claim"
    t.check("POST /api/v3/edcs/claim", u1.post(claim, json=proof(one)), 200)
    t.check("POST /api/v3/edcs/claim", u1.post(claim, json={**proof(two), "target_application_ids": {}}), 400)
    t.check(
        "POST /api/v3/edcs/claim/batch",
        u1.post(f"{claim}/batch", json={"requests": [{**proof(two), "target_device_id": "second"}, proof(one)]}),
        200,
    )
    t.check("POST /api/v3/edcs/claim/info", u1.post(f"{claim}/info", json={"join_eui": join_eui}), 200)
    t.check(
        "POST /api/v3/edcs/claim/info/batch",
        u1.post(f"{claim}/info/batch", json={"requests": [{"join_eui": join_eui}, {"join_eui": "0000000000000001"}]}),
        200,
    )
    t.check("GET /api/v3/edcs/claim/{application_id}/devices/{device_id}", u1.get(f"{claim}/{app}/devices/second"), 200)
    t.check("GET /api/v3/applications", u1.get("/api/v3/applications"), 200)
    t.check("GET /api/v3/applications/{application_id}/devices", u1.get(f"/api/v3/applications/{app}/devices"), 200)
    t.check(
        "DELETE /api/v3/edcs/claim/{application_id}/devices/{device_id}",
        u1.delete(f"{claim}/{app}/devices/second"),
        200,
    )
    t.check(
        "DELETE /api/v3/edcs/claim/{application_id}/devices/batch",
        u1.delete(
            f"{claim}/{app}/devices/batch",
            params=[("device_ids", f"eui-{one['ids']['dev_eui'].lower()}"), ("device_ids", "nobody")],
        ),
        200,
    )

    qr = "/api/v3/qr-codes/end-devices"
    t.check("GET /api/v3/qr-codes/end-devices/formats", u1.get(f"{qr}/formats"), 200)
    t.check("GET /api/v3/qr-codes/end-devices/formats/{format_id}", u1.get(f"{qr}/formats/tr005"), 200)
    t.check("GET /api/v3/qr-codes/end-devices/formats/{format_id}", u1.get(f"{qr}/formats/nope"), 404)
    end_device = {
        "ids": {"join_eui": join_eui, "dev_eui": three["ids"]["dev_eui"]},
        "claim_authentication_code": {"value": three["claim_authentication_code"]["value"]},
        "serial_number": "S1",
        "lora_alliance_profile_ids": {"vendor_id": 1, "vendor_profile_id": 2},
    }
    t.check("POST /api/v3/qr-codes/end-devices", u1.post(qr, json={"end_device": end_device}), 200)
    t.check(
        "POST /api/v3/qr-codes/end-devices",
        u1.post(qr, json={"end_device": end_device, "image": {"image_size": 100}}),
        200,
    )
    t.check(
        "POST /api/v3/qr-codes/end-devices",
        u1.post(qr, json={"end_device": end_device, "image": {"image_size": 100, "format": "svg"}}),
        200,
    )
    encoded = base64.b64encode(three["qr_code"].encode()).decode()
    t.check("POST /api/v3/qr-codes/end-devices/parse", u1.post(f"{qr}/parse", json={"qr_code": encoded}), 200)
    t.check(
        "POST /api/v3/qr-codes/end-devices/{format_id}/parse",
        u1.post(f"{qr}/tr005/parse", json={"qr_code": encoded}),
        200,
    )
    t.check(
        "POST /api/v3/qr-codes/end-devices/parse",
        u1.post(f"{qr}/parse", json={"qr_code": base64.b64encode(b"0004A31000FFFFFF").decode()}),
        200,
    )  # a bare DevEUI: the fewest fields
    t.check("POST /api/v3/qr-codes/end-devices/parse", u1.post(f"{qr}/parse", json={"qr_code": "!"}), 400)

    imported = "POST /v1/lorawan-devices/import"
    t.check(
        imported,
        admin.post(
            "/v1/lorawan-devices/import",
            content=json.dumps({"ids": {"dev_eui": eui(), "join_eui": join_eui}}).encode(),
            headers={"Content-Type": "application/x-ndjson"},
        ),
        200,
    )
    t.check(
        imported,
        admin.post(
            "/v1/lorawan-devices/import",
            params={"format": "csv"},
            content=_csv(["dev_eui"], [eui()], ["bad"]),
            headers={"Content-Type": "text/csv"},
        ),
        200,
    )
    t.check(imported, admin.post("/v1/lorawan-devices/import", content=b"", headers={"Content-Type": "text/csv"}), 400)
    bulk = t.check(
        "POST /v1/lorawan-claims/bulk",
        u1.post(
            "/v1/lorawan-claims/bulk",
            params={"application_id": app},
            content=_csv([join_eui, four["ids"]["dev_eui"], four["claim_authentication_code"]["value"]]),
            headers={"Content-Type": "text/csv"},
        ),
        202,
    )
    _wait_op(u1, bulk.json()["bulkOpsRequestId"])
    t.check("GET /v1/bulk-ops-requests/{opId}", u1.get(f"/v1/bulk-ops-requests/{bulk.json()['bulkOpsRequestId']}"), 200)
