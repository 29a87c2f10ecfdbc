"""LoRaWAN claiming through real HTTP, every endpoint and error: the tenant's API for LoRaWAN devices
(register, read, new codes, streamed import), The Things Stack's claiming API (claim by identifiers or
QR code, batch, info, status, unclaim, applications), its QR code API (formats, generate with PNG/SVG
images that read back, parse), lockouts of guessed codes (per DevEUI, per user, per source address),
LoRaWAN bulk claim jobs, the audit log of refused claims, and codes never stored in plain text.

All requests come from 127.0.0.1, so this module runs its own servers with its own lockout
thresholds: one per backend for the module (3 free failures per DevEUI, users and addresses
practically unlimited), and for the per-user and per-address limits a fresh server per test."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from dbrows import database_rows
from http_helpers import Api, World, make_world, new_customer_user, problem, uid
from live_fixtures import LIVE_BACKENDS, serving
from pngread import decode_qr_png, png_size
from servers import LiveServer

JOIN_EUI = "70B3D57ED0000000"
ZERO_EUI = "0" * 16
DEVICES = "/v1/lorawan-devices"
CLAIM = "/api/v3/edcs/claim"
QR = "/api/v3/qr-codes/end-devices"
ERROR_DETAILS = "type.googleapis.com/ttn.lorawan.v3.ErrorDetails"
GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX8 = re.compile(r"^[0-9A-F]{8}$")
SPEC_EXAMPLE = "LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122:OAABBCCDDEEFF:SYYWWNNNNNN:PFOOBAR:CAF2C"

MODULE_ENV = {
    "CLAIMD_CLAIM_LOCKOUT_FREE_ADDRESS": "100000",
    "CLAIMD_CLAIM_LOCKOUT_FREE_USER": "100000",
    "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE": "3",
    "CLAIMD_CLAIM_LOCKOUT_BASE_MS": "1000",
    "CLAIMD_HTTP_MAX_UPLOAD_BYTES": "65536",  # the imports here are small; the limit's test sends more
}
UPLOAD_LIMIT = 65536
FREE_DEVICE_FAILURES = 3
GUARDED_ENV = {  # the per-user and per-address limits, with lockouts long enough never to run out in a test
    "CLAIMD_CLAIM_LOCKOUT_FREE_ADDRESS": "5",
    "CLAIMD_CLAIM_LOCKOUT_FREE_USER": "2",
    "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE": "100000",
    "CLAIMD_CLAIM_LOCKOUT_BASE_MS": "60000",
}


# servers --------------------------------------------------------------------------------------
@contextlib.contextmanager
def world_of(server: LiveServer) -> Iterator[World]:
    w = make_world(server.base_url, server.admin_email, server.admin_password)
    try:
        yield w
    finally:
        for api in w.apis:
            api.close()


@pytest.fixture(scope="module", params=LIVE_BACKENDS)
def lw_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(request.param, tmp_path_factory.mktemp("claimd-lw"), MODULE_ENV) as server:
        yield server


@pytest.fixture(scope="module")
def lw(lw_server: LiveServer) -> Iterator[World]:
    with world_of(lw_server) as w:
        yield w


@pytest.fixture(params=LIVE_BACKENDS)
def guarded(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[LiveServer, World]]:
    """A fresh server with small per-user (2) and per-address (5) limits and 60 s lockouts."""
    with serving(request.param, tmp_path / "claimd", GUARDED_ENV) as server, world_of(server) as w:
        yield server, w


# helpers --------------------------------------------------------------------------------------
def new_eui() -> str:
    while True:
        eui = secrets.token_hex(8).upper()
        if eui != ZERO_EUI:
            return eui


def new_app(prefix: str = "app") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_of(iso: str) -> int:
    assert ISO_MS.match(iso), iso
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def tr005(join_eui: str, dev_eui: str, code: str, vendor: int = 0, profile: int = 0, serial: str = "") -> str:
    """TR005 text as claimd writes it: O, S, then the CRC-16/MODBUS checksum last."""
    text = f"LW:D0:{join_eui}:{dev_eui}:{vendor:04X}{profile:04X}:O{code}"
    if serial:
        text += f":S{serial}"
    return f"{text}:C{crc16_modbus(text.encode()):04X}"


def tts_error(r: httpx.Response, status: int, name: str) -> dict[str, Any]:
    """TTS's error body ``{"code", "message", "details": [ErrorDetails]}``; returns the details."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} → {r.status_code} {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == GRPC[status], body
    (details,) = body["details"]
    assert_error_details(details, status, name)
    assert body["message"] == f"error:pkg/claimd:{name} ({details['message_format']})", body
    return details


def assert_error_details(details: dict[str, Any], status: int, name: str) -> None:
    assert details["@type"] == ERROR_DETAILS and details["namespace"] == "pkg/claimd", details
    assert details["name"] == name and details["code"] == GRPC[status], details
    assert re.fullmatch(r"[0-9a-f]{32}", details["correlation_id"]), details
    assert isinstance(details["message_format"], str) and details["message_format"].strip(), details


def register(api: Api, dev_eui: str | None = None, join_eui: str | None = JOIN_EUI, **extra: Any) -> dict[str, Any]:
    """Register a LoRaWAN device as the tenant admin; returns the 201 body (with its code, once)."""
    ids: dict[str, Any] = {"dev_eui": dev_eui or new_eui()}
    if join_eui is not None:
        ids["join_eui"] = join_eui
    r = api.post(DEVICES, json={"ids": ids, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def dev_of(device: dict[str, Any]) -> str:
    return device["ids"]["dev_eui"]


def code_of(device: dict[str, Any]) -> str:
    return device["claim_authentication_code"]["value"]


def claim_request(dev_eui: str, code: str, app: str, join_eui: str = JOIN_EUI, **extra: Any) -> dict[str, Any]:
    return {
        "authenticated_identifiers": {"join_eui": join_eui, "dev_eui": dev_eui, "authentication_code": code},
        "target_application_ids": {"application_id": app},
        **extra,
    }


def claim(api: Api, dev_eui: str, code: str, app: str, join_eui: str = JOIN_EUI, **extra: Any) -> httpx.Response:
    return api.post(CLAIM, json=claim_request(dev_eui, code, app, join_eui, **extra))


def claimed_ids(dev_eui: str, app: str, device_id: str | None = None, join_eui: str = JOIN_EUI) -> dict[str, Any]:
    return {
        "device_id": device_id or f"eui-{dev_eui.lower()}",
        "application_ids": {"application_id": app},
        "dev_eui": dev_eui,
        "join_eui": join_eui,
    }


def get_device(w: World, dev_eui: str) -> dict[str, Any]:
    return w.admin.ok("get", f"{DEVICES}/{dev_eui}")


def app_devices(api: Api, app: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    r = api.get(f"/api/v3/applications/{app}/devices", params=params)
    assert r.status_code == 200, r.text
    return r.json()["end_devices"], int(r.headers["X-Total-Count"])


def applications(api: Api) -> dict[str, dict[str, Any]]:
    return {a["ids"]["application_id"]: a for a in api.ok("get", "/api/v3/applications")["applications"]}


def user_id(api: Api) -> str:
    return api.ok("get", "/api/auth/user")["id"]["id"]


def import_lines(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson"), r.headers
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def wait_op(api: Api, op_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    op: dict[str, Any] = {}
    while time.monotonic() < deadline:
        op = api.ok("get", f"/v1/bulk-ops-requests/{op_id}")
        if op["status"] in ("SUCCEEDED", "FAILED"):
            return op
        time.sleep(0.1)
    raise AssertionError(f"bulk operation {op_id} did not finish: {op}")


# the tenant's API -------------------------------------------------------------------------------
def test_register_shows_the_code_and_qr_text_once(lw: World) -> None:
    dev_eui = new_eui()
    started = now_ms()
    r = lw.admin.post(
        DEVICES,
        json={
            "ids": {"dev_eui": dev_eui.lower(), "join_eui": JOIN_EUI.lower(), "device_id": uid("lw-sensor")},
            "claim_authentication_code": {
                "value": "c05ea29c",
                "valid_from": "2020-01-01T00:00:00Z",
                "valid_to": 4102444800000,
            },
            "lora_alliance_profile_ids": {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122},
            "serial_number": "SN-0001",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {
        "id",
        "name",
        "ids",
        "claim_authentication_code",
        "lora_alliance_profile_ids",
        "serial_number",
        "owner_id",
        "claimed_at",
        "blocked",
        "created_at",
        "qr_code",
    }
    assert body["name"].startswith("lw-sensor-")
    assert body["ids"] == {"dev_eui": dev_eui, "join_eui": JOIN_EUI}  # canonical: upper-case hex
    assert body["claim_authentication_code"] == {  # a hex code is kept in upper case
        "value": "C05EA29C",
        "valid_from": "2020-01-01T00:00:00.000Z",
        "valid_to": "2100-01-01T00:00:00.000Z",
        "spent_at": None,
    }
    assert body["lora_alliance_profile_ids"] == {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122}
    assert body["serial_number"] == "SN-0001"
    assert (body["owner_id"], body["claimed_at"], body["blocked"]) == (None, None, False)
    assert abs(ms_of(body["created_at"]) - started) < 120_000
    assert body["qr_code"] == tr005(JOIN_EUI, dev_eui, "C05EA29C", 0xAABB, 0x1122, "SN-0001")
    # the QR text reads back as the device
    parsed = lw.admin.ok("post", f"{QR}/parse", json={"qr_code": b64(body["qr_code"])})
    assert parsed["format_id"] == "tr005"
    assert parsed["end_device_template"]["end_device"] == {
        "ids": {"dev_eui": dev_eui, "join_eui": JOIN_EUI},
        "claim_authentication_code": {"value": "C05EA29C"},
        "lora_alliance_profile_ids": {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122},
        "serial_number": "SN-0001",
    }

    # read back: the same device, never its code nor its QR text
    for path in (f"{DEVICES}/{dev_eui}", f"{DEVICES}/{dev_eui.lower()}"):
        r = lw.admin.get(path)
        assert r.status_code == 200, r.text
        seen = r.json()
        expected = {k: v for k, v in body.items() if k != "qr_code"}
        expected["claim_authentication_code"] = {
            k: v for k, v in body["claim_authentication_code"].items() if k != "value"
        }
        assert seen == expected
        assert "C05EA29C" not in r.text.upper()


def test_register_defaults(lw: World) -> None:
    dev_eui = new_eui()
    body = register(lw.admin, dev_eui.lower(), join_eui=None)  # no join_eui, no code, no name
    assert body["name"] == f"eui-{dev_eui.lower()}"
    assert body["ids"] == {"dev_eui": dev_eui, "join_eui": ZERO_EUI}
    code = code_of(body)
    assert HEX8.match(code), code
    assert body["claim_authentication_code"] == {"value": code, "valid_from": None, "valid_to": None, "spent_at": None}
    assert body["lora_alliance_profile_ids"] == {"vendor_id": 0, "vendor_profile_id": 0}
    assert body["serial_number"] is None
    assert body["qr_code"] == tr005(ZERO_EUI, dev_eui, code)
    # generated codes differ
    assert code_of(register(lw.admin)) != code

    # the code as a plain string; a non-hex code keeps its case
    plain = register(lw.admin, claim_authentication_code="Pin7xY")
    assert code_of(plain) == "Pin7xY" and plain["qr_code"].split(":")[5] == "OPin7xY"
    # times as epoch milliseconds
    timed = register(lw.admin, claim_authentication_code={"valid_from": 1_700_000_000_000})
    assert timed["claim_authentication_code"]["valid_from"] == "2023-11-14T22:13:20.000Z"
    assert HEX8.match(code_of(timed))


def test_register_refusals(lw: World, lw_server: LiveServer) -> None:
    dev_eui = new_eui()
    register(lw.admin, dev_eui)
    problem(lw.admin.post(DEVICES, json={"ids": {"dev_eui": dev_eui.lower()}}), 409, "DEV_EUI_TAKEN")
    for bad in ("xyz", "70B3D57ED000000", "70B3D57ED00000000", "GGB3D57ED0000000", ZERO_EUI, 1234):
        problem(lw.admin.post(DEVICES, json={"ids": {"dev_eui": bad}}), 400, "INVALID_EUI")
    problem(lw.admin.post(DEVICES, json={"ids": {"dev_eui": new_eui(), "join_eui": "nope"}}), 400, "INVALID_EUI")
    problem(lw.admin.post(DEVICES, json={"ids": {}}), 400, "INVALID_EUI")
    for code in ("bad-code", "X" * 33, "äbc", "with space"):
        r = lw.admin.post(DEVICES, json={"ids": {"dev_eui": new_eui()}, "claim_authentication_code": code})
        problem(r, 400, "INVALID_CLAIM_CODE")
    r = lw.admin.post(
        DEVICES,
        json={
            "ids": {"dev_eui": new_eui()},
            "claim_authentication_code": {"value": "ABC", "valid_from": 2000, "valid_to": 1000},
        },
    )
    problem(r, 400, "INVALID_CLAIM_CODE_WINDOW")
    r = lw.admin.post(
        DEVICES, json={"ids": {"dev_eui": new_eui()}, "claim_authentication_code": {"valid_to": "tomorrow"}}
    )
    problem(r, 400, "INVALID_CLAIM_CODE_WINDOW")
    for profile in ({"vendor_id": 70000}, {"vendor_profile_id": -1}, {"vendor_id": "x"}):
        r = lw.admin.post(DEVICES, json={"ids": {"dev_eui": new_eui()}, "lora_alliance_profile_ids": profile})
        problem(r, 400)
    problem(lw.admin.post(DEVICES, content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    # none of the refused devices exists
    problem(lw.admin.get(f"{DEVICES}/{new_eui()}"), 404, "NOT_FOUND")
    problem(lw.admin.get(f"{DEVICES}/zz"), 400, "INVALID_EUI")
    # customers neither register nor read
    problem(lw.u1.post(DEVICES, json={"ids": {"dev_eui": new_eui()}}), 403, "FORBIDDEN")
    problem(lw.u1.get(f"{DEVICES}/{dev_eui}"), 403, "FORBIDDEN")
    problem(httpx.post(lw_server.base_url + DEVICES, json={"ids": {"dev_eui": new_eui()}}), 401)
    problem(httpx.get(f"{lw_server.base_url}{DEVICES}/{dev_eui}"), 401)


def test_a_new_claim_code_replaces_the_old_one(lw: World) -> None:
    device = register(lw.admin, claim_authentication_code="Old1Code")
    dev_eui = dev_of(device)
    # given, lower-case hex (kept upper-case), with a window
    r = lw.admin.post(
        f"{DEVICES}/{dev_eui.lower()}/claim-code",
        json={"value": "abcdef12", "valid_from": "2020-01-01T00:00:00Z", "valid_to": 4102444800000},
    )
    assert r.status_code == 200, r.text
    renewed = r.json()
    assert renewed["id"] == device["id"] and renewed["ids"] == device["ids"]
    assert renewed["claim_authentication_code"] == {
        "value": "ABCDEF12",
        "valid_from": "2020-01-01T00:00:00.000Z",
        "valid_to": "2100-01-01T00:00:00.000Z",
        "spent_at": None,
    }
    assert renewed["qr_code"] == tr005(JOIN_EUI, dev_eui, "ABCDEF12")
    seen = get_device(lw, dev_eui)
    assert "value" not in seen["claim_authentication_code"] and "qr_code" not in seen
    assert seen["claim_authentication_code"]["valid_to"] == "2100-01-01T00:00:00.000Z"
    # generated, with no body at all: a new 8-hex code
    r = lw.admin.post(f"{DEVICES}/{dev_eui}/claim-code")
    assert r.status_code == 200, r.text
    generated = code_of(r.json())
    assert HEX8.match(generated) and generated != "ABCDEF12"
    assert r.json()["qr_code"] == tr005(JOIN_EUI, dev_eui, generated)
    # only the newest code claims
    app = new_app()
    tts_error(claim(lw.u1, dev_eui, "Old1Code", app), 403, "device_access_denied")
    tts_error(claim(lw.u1, dev_eui, "ABCDEF12", app), 403, "device_access_denied")
    assert claim(lw.u1, dev_eui, generated, app).status_code == 200

    # refusals
    problem(lw.admin.post(f"{DEVICES}/{new_eui()}/claim-code", json={}), 404, "NOT_FOUND")
    problem(lw.admin.post(f"{DEVICES}/{dev_eui}/claim-code", json={"value": "no-no"}), 400, "INVALID_CLAIM_CODE")
    problem(
        lw.admin.post(f"{DEVICES}/{dev_eui}/claim-code", json={"valid_from": 5000, "valid_to": 10}),
        400,
        "INVALID_CLAIM_CODE_WINDOW",
    )
    problem(lw.admin.post(f"{DEVICES}/{dev_eui}/claim-code", json={"value": 12345678}), 400)
    problem(lw.u1.post(f"{DEVICES}/{dev_eui}/claim-code", json={}), 403, "FORBIDDEN")


# claims -----------------------------------------------------------------------------------------
def test_claim_by_identifiers_files_the_device_in_an_application(lw: World) -> None:
    device = register(
        lw.admin, lora_alliance_profile_ids={"vendor_id": 1, "vendor_profile_id": 2}, serial_number="SN-9"
    )
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    assert app not in applications(lw.u1)
    started = now_ms()
    # EUIs and a hex code in lower case: the same device, the same code
    r = claim(lw.u1, dev_eui.lower(), code.lower(), app, join_eui=JOIN_EUI.lower())
    assert r.status_code == 200, r.text
    assert r.json() == claimed_ids(dev_eui, app)

    seen = get_device(lw, dev_eui)
    assert seen["owner_id"] == lw.c1_id
    claimed_at = ms_of(seen["claimed_at"])
    assert abs(claimed_at - started) < 120_000
    assert ms_of(seen["claim_authentication_code"]["spent_at"]) == claimed_at

    device_id = f"eui-{dev_eui.lower()}"
    status = lw.u1.ok("get", f"{CLAIM}/{app}/devices/{device_id}")
    assert status == {"end_device_ids": claimed_ids(dev_eui, app), "locked": True, "claimed_at": seen["claimed_at"]}
    listed = applications(lw.u1)[app]
    assert listed["end_device_count"] == 1 and ms_of(listed["created_at"]) == claimed_at
    found, total = app_devices(lw.u1, app)
    assert total == 1
    assert found == [
        {
            "ids": claimed_ids(dev_eui, app),
            "name": device["name"],
            "created_at": seen["claimed_at"],
            "lora_alliance_profile_ids": {"vendor_id": 1, "vendor_profile_id": 2},
            "serial_number": "SN-9",
        }
    ]

    # the same customer again (even into another application): 200 with the stored identifiers
    for again in (
        claim(lw.u1, dev_eui, code, app),
        claim(lw.u1, dev_eui, code, new_app(), target_device_id="other-id"),
    ):
        assert again.status_code == 200, again.text
        assert again.json() == claimed_ids(dev_eui, app)
    assert get_device(lw, dev_eui)["claimed_at"] == seen["claimed_at"]
    # another customer with the right code
    tts_error(claim(lw.u2, dev_eui, code, app), 409, "device_owned_by_another")
    assert get_device(lw, dev_eui)["owner_id"] == lw.c1_id
    # applications are per customer
    assert app not in applications(lw.u2)
    assert app_devices(lw.u2, app) == ([], 0)
    tts_error(lw.u2.get(f"{CLAIM}/{app}/devices/{device_id}"), 404, "not_found")
    tts_error(lw.u2.delete(f"{CLAIM}/{app}/devices/{device_id}"), 404, "not_found")
    assert get_device(lw, dev_eui)["owner_id"] == lw.c1_id


def test_a_wrong_code_an_unknown_device_and_a_wrong_join_eui_look_the_same(lw: World) -> None:
    device = register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    unknown = new_eui()
    wrong_code = tts_error(
        claim(lw.u1, dev_eui, "DEADBEEF" if code != "DEADBEEF" else "BEEFDEAD", app), 403, "device_access_denied"
    )
    wrong_join = tts_error(claim(lw.u1, dev_eui, code, app, join_eui="70B3D57ED0000001"), 403, "device_access_denied")
    no_device = tts_error(claim(lw.u1, unknown, code, app), 403, "device_access_denied")
    assert wrong_code["message_format"] == wrong_join["message_format"]
    assert dev_eui in wrong_code["message_format"]
    assert no_device["message_format"] == wrong_code["message_format"].replace(dev_eui, unknown)
    assert get_device(lw, dev_eui)["owner_id"] is None
    # two failures are within the free ones: the right code still claims
    assert claim(lw.u1, dev_eui, code, app).status_code == 200

    # the tenant sees the refusals in its audit log
    page = lw.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{device['id']}", params={"pageSize": 100, "page": 0})
    entries = page["data"]
    denied = [e for e in entries if e["actionType"] == "CLAIM" and e["actionStatus"] == "DEVICE_ACCESS_DENIED"]
    assert sum(e["actionData"].get("count", 1) for e in denied) == 2, entries  # repeated failures: one row, counted
    u1 = user_id(lw.u1)
    for e in denied:
        assert e["entityId"] == {"entityType": "DEVICE", "id": device["id"]} and e["entityName"] == device["name"]
        assert e["door"] == "REST" and e["userId"]["id"] == u1 and e["customerId"]["id"] == lw.c1_id
        assert e["source"] == "127.0.0.1"
        assert e["actionData"]["detail"] == "claim authentication code"
    assert [e["actionStatus"] for e in entries if e["actionType"] == "CLAIM"].count("SUCCESS") == 1
    assert code not in json.dumps(entries)
    tenant_log = lw.admin.ok("get", "/api/audit/logs", params={"pageSize": 1000, "page": 0})["data"]
    assert (
        sum(
            e["actionData"].get("count", 1)
            for e in tenant_log
            if e["entityName"] == device["name"] and e["actionStatus"] == "DEVICE_ACCESS_DENIED"
        )
        == 2
    )


def test_non_hex_codes_are_case_sensitive(lw: World) -> None:
    device = register(lw.admin, claim_authentication_code="Pin7xY")
    app = new_app()
    tts_error(claim(lw.u1, dev_of(device), "PIN7XY", app), 403, "device_access_denied")
    tts_error(claim(lw.u1, dev_of(device), "pin7xy", app), 403, "device_access_denied")
    assert claim(lw.u1, dev_of(device), "Pin7xY", app).json() == claimed_ids(dev_of(device), app)


def test_unclaim_spends_the_code_until_the_tenant_sets_a_new_one(lw: World) -> None:
    device = register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    device_id = f"eui-{dev_eui.lower()}"
    assert claim(lw.u1, dev_eui, code, app).status_code == 200
    spent_at = get_device(lw, dev_eui)["claim_authentication_code"]["spent_at"]

    r = lw.u1.delete(f"{CLAIM}/{app}/devices/{device_id}")
    assert r.status_code == 200 and r.json() == {}, r.text
    seen = get_device(lw, dev_eui)
    assert (seen["owner_id"], seen["claimed_at"]) == (None, None)
    assert seen["claim_authentication_code"]["spent_at"] == spent_at
    tts_error(lw.u1.get(f"{CLAIM}/{app}/devices/{device_id}"), 404, "not_found")
    tts_error(lw.u1.delete(f"{CLAIM}/{app}/devices/{device_id}"), 404, "not_found")
    assert applications(lw.u1)[app]["end_device_count"] == 0
    assert app_devices(lw.u1, app) == ([], 0)

    # the spent code claims it for nobody, its last owner included
    tts_error(claim(lw.u1, dev_eui, code, app), 403, "claim_code_spent")
    tts_error(claim(lw.u2, dev_eui, code, new_app()), 403, "claim_code_spent")
    assert get_device(lw, dev_eui)["owner_id"] is None

    renewed = lw.admin.ok("post", f"{DEVICES}/{dev_eui}/claim-code", json={})
    assert renewed["claim_authentication_code"]["spent_at"] is None
    new_code = code_of(renewed)
    assert get_device(lw, dev_eui)["claim_authentication_code"]["spent_at"] is None
    tts_error(claim(lw.u2, dev_eui, code, app), 403, "device_access_denied")  # the old code is just wrong now
    app2 = new_app()
    r = claim(lw.u2, dev_eui, new_code, app2)
    assert r.status_code == 200 and r.json() == claimed_ids(dev_eui, app2), r.text
    assert get_device(lw, dev_eui)["owner_id"] == lw.c2_id
    assert [d["ids"]["dev_eui"] for d in app_devices(lw.u2, app2)[0]] == [dev_eui]


def test_the_code_works_only_inside_its_validity_window(lw: World) -> None:
    app = new_app()
    future = register(lw.admin, claim_authentication_code={"valid_from": now_ms() + 3_600_000})
    past = register(lw.admin, claim_authentication_code={"valid_to": "2020-01-01T00:00:00Z"})
    for device in (future, past):
        for _ in range(FREE_DEVICE_FAILURES + 2):  # not wrong guesses: never a lockout
            details = tts_error(claim(lw.u1, dev_of(device), code_of(device), app), 403, "claim_code_not_valid")
        assert "valid from" in details["message_format"]
        assert get_device(lw, dev_of(device))["owner_id"] is None
        # a wrong code outside the window is just wrong
        tts_error(claim(lw.u1, dev_of(device), "FFFF0000", app), 403, "device_access_denied")
    # the tenant opens the window of the future one: it claims at once
    renewed = lw.admin.ok(
        "post",
        f"{DEVICES}/{dev_of(future)}/claim-code",
        json={"value": code_of(future), "valid_from": now_ms() - 60_000, "valid_to": now_ms() + 60_000},
    )
    assert code_of(renewed) == code_of(future)
    assert claim(lw.u1, dev_of(future), code_of(future), app).status_code == 200


def test_a_blocked_device_refuses_claims(lw: World) -> None:
    device = register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    blocked = lw.admin.post(f"/v1/claimed-devices/{device['id']}/block")
    assert blocked.status_code == 200 and blocked.json()["status"] == "BLOCKED", blocked.text
    assert get_device(lw, dev_eui)["blocked"] is True
    tts_error(claim(lw.u1, dev_eui, code, app), 403, "device_blocked")
    tts_error(claim(lw.u1, dev_eui, "0BADC0DE", app), 403, "device_access_denied")  # says nothing without the code
    seen = get_device(lw, dev_eui)
    assert seen["owner_id"] is None and seen["claim_authentication_code"]["spent_at"] is None
    assert lw.admin.post(f"/v1/claimed-devices/{device['id']}/unblock").json()["status"] == "READY"
    assert get_device(lw, dev_eui)["blocked"] is False
    assert claim(lw.u1, dev_eui, code, app).json() == claimed_ids(dev_eui, app)


def test_claim_by_qr_code(lw: World) -> None:
    device = register(
        lw.admin, serial_number="SN-QR", lora_alliance_profile_ids={"vendor_id": 7, "vendor_profile_id": 9}
    )
    dev_eui, app = dev_of(device), new_app()
    qr = device["qr_code"]
    damaged = qr[:-1] + ("0" if qr[-1] != "0" else "1")
    tts_error(
        lw.u1.post(CLAIM, json={"qr_code": b64(damaged), "target_application_ids": {"application_id": app}}),
        400,
        "qr_bad_checksum",
    )
    # a scanner's trailing newline is fine
    r = lw.u1.post(CLAIM, json={"qr_code": b64(qr + "\n"), "target_application_ids": {"application_id": app}})
    assert r.status_code == 200, r.text
    assert r.json() == claimed_ids(dev_eui, app)
    assert get_device(lw, dev_eui)["owner_id"] == lw.c1_id

    for text in (dev_eui, f"LW:D0:{JOIN_EUI}:{new_eui()}:00000000"):  # no owner token in it
        r = lw.u1.post(CLAIM, json={"qr_code": b64(text), "target_application_ids": {"application_id": app}})
        tts_error(r, 400, "qr_no_claim_code")
    tts_error(
        lw.u1.post(
            CLAIM, json={"qr_code": b64("hello, this is no QR code"), "target_application_ids": {"application_id": app}}
        ),
        400,
        "qr_unknown_format",
    )
    for bad in ("***not base64***", "", 42):
        tts_error(
            lw.u1.post(CLAIM, json={"qr_code": bad, "target_application_ids": {"application_id": app}}),
            400,
            "invalid_argument",
        )


def test_claim_request_refusals(lw: World, lw_server: LiveServer) -> None:
    device = register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    both = {**claim_request(dev_eui, code, app), "qr_code": b64(device["qr_code"])}
    tts_error(lw.u1.post(CLAIM, json=both), 400, "invalid_argument")
    tts_error(lw.u1.post(CLAIM, json={"target_application_ids": {"application_id": app}}), 400, "invalid_argument")
    no_app = claim_request(dev_eui, code, app)
    del no_app["target_application_ids"]
    tts_error(lw.u1.post(CLAIM, json=no_app), 400, "invalid_argument")
    for bad_app in ("Bad_App", "ab", "a--b", "-abc", "x" * 37):
        tts_error(claim(lw.u1, dev_eui, code, bad_app), 400, "invalid_id")
    tts_error(claim(lw.u1, dev_eui, code, app, target_device_id="Not An Id"), 400, "invalid_id")
    tts_error(claim(lw.u1, "nope", code, app), 400, "invalid_eui")
    tts_error(claim(lw.u1, dev_eui, code, app, join_eui="nope"), 400, "invalid_eui")
    missing = claim_request(dev_eui, code, app)
    del missing["authenticated_identifiers"]["authentication_code"]
    tts_error(lw.u1.post(CLAIM, json=missing), 400, "invalid_argument")
    tts_error(
        lw.u1.post(CLAIM, content=b"not json", headers={"Content-Type": "application/json"}), 400, "invalid_argument"
    )
    tts_error(lw.u1.post(CLAIM, json=[1, 2]), 400, "invalid_argument")
    # only customer users claim
    tts_error(claim(lw.admin, dev_eui, code, app), 403, "permission_denied")
    tts_error(httpx.post(lw_server.base_url + CLAIM, json=claim_request(dev_eui, code, app)), 401, "unauthenticated")
    tts_error(
        httpx.post(
            lw_server.base_url + CLAIM,
            json=claim_request(dev_eui, code, app),
            headers={"X-Authorization": "Bearer not-a-jwt"},
        ),
        401,
        "unauthenticated",
    )
    # none of that touched the device
    seen = get_device(lw, dev_eui)
    assert seen["owner_id"] is None and seen["claim_authentication_code"]["spent_at"] is None
    assert claim(lw.u1, dev_eui, code, app).status_code == 200


def test_a_taken_target_device_id_leaves_the_device_unclaimed(lw: World) -> None:
    first, second = register(lw.admin), register(lw.admin)
    app = new_app()
    r = claim(lw.u1, dev_of(first), code_of(first), app, target_device_id="gate-sensor")
    assert r.status_code == 200 and r.json() == claimed_ids(dev_of(first), app, "gate-sensor"), r.text
    details = tts_error(
        claim(lw.u1, dev_of(second), code_of(second), app, target_device_id="gate-sensor"), 409, "end_device_id_taken"
    )
    assert "gate-sensor" in details["message_format"]
    seen = get_device(lw, dev_of(second))
    assert (seen["owner_id"], seen["claimed_at"], seen["claim_authentication_code"]["spent_at"]) == (None, None, None)
    # the same id in another application, or another id in this one, is fine
    r = claim(lw.u1, dev_of(second), code_of(second), app, target_device_id="gate-sensor-2")
    assert r.status_code == 200 and r.json() == claimed_ids(dev_of(second), app, "gate-sensor-2"), r.text
    found, total = app_devices(lw.u1, app)
    assert total == 2 and [d["ids"]["device_id"] for d in found] == ["gate-sensor", "gate-sensor-2"]
    third = register(lw.admin)
    other = new_app()
    assert claim(lw.u1, dev_of(third), code_of(third), other, target_device_id="gate-sensor").json() == claimed_ids(
        dev_of(third), other, "gate-sensor"
    )


def test_two_customers_racing_for_one_device_one_wins(lw: World) -> None:
    for _ in range(3):
        device = register(lw.admin)
        app = new_app()

        def attempt(api: Api, device: dict[str, Any] = device, app: str = app) -> int:
            client = Api(api.base_url, api.token)
            try:
                return claim(client, dev_of(device), code_of(device), app).status_code
            finally:
                client.close()

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(attempt, [lw.u1, lw.u2])
        assert sorted([first, second]) == [200, 409]
        winner = lw.c1_id if first == 200 else lw.c2_id
        assert get_device(lw, dev_of(device))["owner_id"] == winner


def test_parallel_claims_into_one_new_application(lw: World) -> None:
    devices = [register(lw.admin) for _ in range(6)]
    app = new_app()

    def attempt(device: dict[str, Any]) -> httpx.Response:
        client = Api(lw.u1.base_url, lw.u1.token)
        try:
            return claim(client, dev_of(device), code_of(device), app)
        finally:
            client.close()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(attempt, devices))
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert applications(lw.u1)[app]["end_device_count"] == 6
    found, total = app_devices(lw.u1, app)
    assert total == 6 and sorted(d["ids"]["dev_eui"] for d in found) == sorted(dev_of(d) for d in devices)


def test_claim_batch_answers_each_request_in_order(lw: World) -> None:
    fresh, mine, theirs = register(lw.admin), register(lw.admin), register(lw.admin)
    app = new_app()
    assert claim(lw.u1, dev_of(mine), code_of(mine), app, target_device_id="mine").status_code == 200
    assert claim(lw.u2, dev_of(theirs), code_of(theirs), new_app()).status_code == 200
    r = lw.u1.post(
        f"{CLAIM}/batch",
        json={
            "requests": [
                claim_request(dev_of(fresh), code_of(fresh), app),
                claim_request(dev_of(mine), code_of(mine), new_app()),
                claim_request(new_eui(), "ABCDEF01", app),
                claim_request(dev_of(theirs), code_of(theirs), app),
                {"qr_code": b64("0004A31000FFFFFF"), "target_application_ids": {"application_id": app}},
                claim_request(dev_of(fresh), code_of(fresh), "Bad_App"),
                "not an object",
            ]
        },
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 7
    assert results[0] == {"end_device_ids": claimed_ids(dev_of(fresh), app), "created": True}
    assert results[1] == {"end_device_ids": claimed_ids(dev_of(mine), app, "mine"), "created": False}
    expected_errors = {
        2: (403, "device_access_denied"),
        3: (409, "device_owned_by_another"),
        4: (400, "qr_no_claim_code"),
        5: (400, "invalid_id"),
        6: (400, "invalid_argument"),
    }
    for i, (status, name) in expected_errors.items():
        assert set(results[i]) == {"error"}, results[i]
        assert_error_details(results[i]["error"], status, name)
    assert get_device(lw, dev_of(fresh))["owner_id"] == lw.c1_id
    assert get_device(lw, dev_of(theirs))["owner_id"] == lw.c2_id

    for bad in ({"requests": []}, {"requests": [claim_request(new_eui(), "AB", app)] * 101}, {"requests": "x"}, {}):
        tts_error(lw.u1.post(f"{CLAIM}/batch", json=bad), 400, "invalid_argument")
    # a tenant admin claims nothing, whether refused whole or per request
    spare = register(lw.admin)
    r = lw.admin.post(f"{CLAIM}/batch", json={"requests": [claim_request(dev_of(spare), code_of(spare), app)]})
    if r.status_code == 200:
        (result,) = r.json()["results"]
        assert_error_details(result["error"], 403, "permission_denied")
    else:
        tts_error(r, 403, "permission_denied")
    assert get_device(lw, dev_of(spare))["owner_id"] is None


def test_claim_info_says_whether_the_tenant_registered_the_join_eui(lw: World) -> None:
    join_eui = new_eui()
    register(lw.admin, join_eui=join_eui)
    assert lw.u1.ok("post", f"{CLAIM}/info", json={"join_eui": join_eui.lower()}) == {
        "join_eui": join_eui,
        "supports_claiming": True,
    }
    other = new_eui()
    assert lw.u2.ok("post", f"{CLAIM}/info", json={"join_eui": other}) == {
        "join_eui": other,
        "supports_claiming": False,
    }
    infos = lw.u1.ok(
        "post",
        f"{CLAIM}/info/batch",
        json={"requests": [{"join_eui": join_eui}, {"join_eui": other}, {"join_eui": JOIN_EUI}]},
    )
    assert infos == {
        "infos": [
            {"join_eui": join_eui, "supports_claiming": True},
            {"join_eui": other, "supports_claiming": False},
            {"join_eui": JOIN_EUI, "supports_claiming": True},
        ]
    }
    tts_error(lw.u1.post(f"{CLAIM}/info", json={"join_eui": "zz"}), 400, "invalid_eui")
    tts_error(lw.u1.post(f"{CLAIM}/info", json={}), 400, "invalid_argument")
    for bad in ({"requests": []}, {"requests": [{"join_eui": JOIN_EUI}] * 21}, {"requests": ["x"]}):
        tts_error(lw.u1.post(f"{CLAIM}/info/batch", json=bad), 400, "invalid_argument")


def test_unclaim_batch(lw: World) -> None:
    one, two = register(lw.admin), register(lw.admin)
    app = new_app()
    assert claim(lw.u1, dev_of(one), code_of(one), app).status_code == 200
    assert claim(lw.u1, dev_of(two), code_of(two), app, target_device_id="second").status_code == 200
    path = f"{CLAIM}/{app}/devices/batch"
    # another customer finds none of them
    tts_error(lw.u2.delete(path, params=[("device_ids", "second")]), 400, "no_devices_found")
    r = lw.u1.delete(
        path, params=[("device_ids", f"eui-{dev_of(one).lower()}"), ("device_ids", "second"), ("device_ids", "nobody")]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["application_ids"] == {"application_id": app} and set(body["failed"]) == {"nobody"}
    assert_error_details(body["failed"]["nobody"], 404, "not_found")
    for device in (one, two):
        assert get_device(lw, dev_of(device))["owner_id"] is None
    assert app_devices(lw.u1, app) == ([], 0)
    tts_error(lw.u1.delete(path, params=[("device_ids", "second")]), 400, "no_devices_found")
    tts_error(lw.u1.delete(path), 400, "invalid_argument")
    tts_error(lw.u1.delete(path, params=[("device_ids", f"d-{i:03}") for i in range(21)]), 400, "invalid_argument")


def test_application_devices_paging(lw: World) -> None:
    app = new_app()
    for name in ("dev-c", "dev-a", "dev-b"):
        device = register(lw.admin)
        assert claim(lw.u1, dev_of(device), code_of(device), app, target_device_id=name).status_code == 200
    page, total = app_devices(lw.u1, app, limit=2, page=1)
    assert total == 3 and [d["ids"]["device_id"] for d in page] == ["dev-a", "dev-b"]
    page, total = app_devices(lw.u1, app, limit=2, page=2)
    assert total == 3 and [d["ids"]["device_id"] for d in page] == ["dev-c"]
    assert app_devices(lw.u1, app, limit=2, page=3) == ([], 3)
    assert applications(lw.u1)[app]["end_device_count"] == 3
    for params in ({"limit": 0}, {"limit": 1001}, {"page": 0}):
        tts_error(lw.u1.get(f"/api/v3/applications/{app}/devices", params=params), 400, "invalid_argument")
    tts_error(lw.u1.get("/api/v3/applications/Bad_App/devices"), 400, "invalid_id")
    assert app_devices(lw.u2, app) == ([], 0)


def test_a_reassignment_by_the_tenant_takes_the_device_out_of_the_application(lw: World) -> None:
    device = register(lw.admin)
    app = new_app()
    assert claim(lw.u1, dev_of(device), code_of(device), app).status_code == 200
    lw.admin.ok("post", f"/api/customer/{lw.c2_id}/device/{device['id']}")
    assert get_device(lw, dev_of(device))["owner_id"] == lw.c2_id
    assert app_devices(lw.u1, app) == ([], 0)
    assert applications(lw.u1)[app]["end_device_count"] == 0
    tts_error(lw.u1.get(f"{CLAIM}/{app}/devices/eui-{dev_of(device).lower()}"), 404, "not_found")


def test_claiming_a_device_your_customer_already_holds_files_it_in_the_application(lw: World) -> None:
    device = register(lw.admin)
    app = new_app()
    lw.admin.ok("post", f"/api/customer/{lw.c1_id}/device/{device['id']}")
    r = claim(lw.u1, dev_of(device), code_of(device), app)
    assert r.status_code == 200, r.text
    assert r.json() == claimed_ids(dev_of(device), app)
    assert [d["ids"]["dev_eui"] for d in app_devices(lw.u1, app)[0]] == [dev_of(device)]


# lockouts ----------------------------------------------------------------------------------------
def test_guessing_locks_the_dev_eui_out_even_for_the_right_code(lw: World) -> None:
    device, spare = register(lw.admin), register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    # the free failures, then one more: that one is still answered, and locks the DevEUI
    for i in range(FREE_DEVICE_FAILURES + 1):
        tts_error(claim(lw.u1, dev_eui, f"BAD{i}", app), 403, "device_access_denied")
    r = claim(lw.u1, dev_eui, code, app)
    details = tts_error(r, 429, "claim_locked_out")
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 2, r.headers
    assert f"{retry_after} s" in details["message_format"]
    # the lock is the DevEUI's: another customer is refused too, another device is not
    tts_error(claim(lw.u2, dev_eui, code, app), 429, "claim_locked_out")
    assert claim(lw.u1, dev_of(spare), code_of(spare), app).status_code == 200
    assert get_device(lw, dev_eui)["owner_id"] is None
    time.sleep(retry_after + 0.2)
    r = claim(lw.u1, dev_eui, code, app)
    assert r.status_code == 200 and r.json() == claimed_ids(dev_eui, app), r.text


def test_a_successful_claim_after_a_lockout_does_not_lock_the_device_again(lw: World) -> None:
    device = register(lw.admin)
    dev_eui, code, app = dev_of(device), code_of(device), new_app()
    for i in range(FREE_DEVICE_FAILURES + 1):
        tts_error(claim(lw.u1, dev_eui, f"BAD{i}", app), 403, "device_access_denied")
    r = claim(lw.u1, dev_eui, code, app)
    tts_error(r, 429, "claim_locked_out")
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    assert claim(lw.u1, dev_eui, code, app).status_code == 200
    again = claim(lw.u1, dev_eui, code, app)  # no wrong guess since the lock ran out
    assert again.status_code == 200 and again.json() == claimed_ids(dev_eui, app), again.text
    tts_error(claim(lw.u2, dev_eui, code, app), 409, "device_owned_by_another")


def test_lockouts_per_user_and_per_source_address(guarded: tuple[LiveServer, World]) -> None:
    _, w = guarded
    devices = [register(w.admin) for _ in range(3)]
    app = new_app()
    # u1 guesses on three devices that do not exist: two free failures, the third locks u1
    for _ in range(3):
        tts_error(claim(w.u1, new_eui(), "ABCDEF01", app), 403, "device_access_denied")
    r = claim(w.u1, dev_of(devices[0]), code_of(devices[0]), app)
    tts_error(r, 429, "claim_locked_out")
    assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers
    assert get_device(w, dev_of(devices[0]))["owner_id"] is None
    # the lock is u1's: u2 (same address, 3 of 5 free failures used) claims
    assert claim(w.u2, dev_of(devices[1]), code_of(devices[1]), app).status_code == 200
    # u2 and a third user fail three more times from this address: the sixth failure locks the address
    for _ in range(2):
        tts_error(claim(w.u2, new_eui(), "ABCDEF01", app), 403, "device_access_denied")
    u3 = new_customer_user(w.admin, w.c2_id)
    u4 = new_customer_user(w.admin, w.c1_id)
    try:
        tts_error(claim(u3, new_eui(), "ABCDEF01", app), 403, "device_access_denied")
        # a user that never failed is refused now, the right code notwithstanding
        r = claim(u4, dev_of(devices[2]), code_of(devices[2]), app)
        tts_error(r, 429, "claim_locked_out")
        assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers
        tts_error(claim(w.u2, dev_of(devices[2]), code_of(devices[2]), app), 429, "claim_locked_out")
        assert get_device(w, dev_of(devices[2]))["owner_id"] is None
    finally:
        u3.close()
        u4.close()


# QR codes ----------------------------------------------------------------------------------------
def test_qr_code_formats(lw: World, lw_server: LiveServer) -> None:
    formats = lw.u1.ok("get", f"{QR}/formats")["formats"]
    assert list(formats) == ["tr005", "tr005draft2", "tr005draft3", "dev_eui"]
    code_paths = ["claim_authentication_code.value", "ids.dev_eui", "ids.join_eui"]
    assert formats["tr005"] == {
        "name": "LoRa Alliance TR005",
        "description": "Standard QR code format defined by LoRa Alliance.",
        "field_mask": {"paths": code_paths},
    }
    assert formats["tr005draft2"]["field_mask"] == formats["tr005draft3"]["field_mask"] == {"paths": code_paths}
    assert formats["dev_eui"]["field_mask"] == {"paths": ["ids.dev_eui"]}
    for fid, fmt in formats.items():
        assert lw.admin.ok("get", f"{QR}/formats/{fid}") == fmt
    tts_error(lw.u1.get(f"{QR}/formats/nope"), 404, "qr_format_not_found")
    tts_error(httpx.get(f"{lw_server.base_url}{QR}/formats"), 401, "unauthenticated")
    tts_error(httpx.get(f"{lw_server.base_url}{QR}/formats/tr005"), 401, "unauthenticated")


def test_generate_a_qr_code_whose_image_reads_back(lw: World, lw_server: LiveServer) -> None:
    dev_eui = new_eui()
    device = {
        "ids": {"join_eui": JOIN_EUI, "dev_eui": dev_eui.lower()},
        "claim_authentication_code": {"value": "C05EA29C"},
        "lora_alliance_profile_ids": {"vendor_id": 1, "vendor_profile_id": 2},
        "serial_number": "SN-0001",
    }
    expected = tr005(JOIN_EUI, dev_eui, "C05EA29C", 1, 2, "SN-0001")
    assert lw.u1.ok("post", QR, json={"end_device": device}) == {"text": expected}
    png = lw.u1.ok("post", QR, json={"format_id": "tr005", "end_device": device, "image": {"image_size": 200}})
    assert png["text"] == expected
    assert png["image"]["embedded"]["mime_type"] == "image/png"
    data = base64.b64decode(png["image"]["embedded"]["data"])
    width, height = png_size(data)
    assert width == height <= 200
    assert decode_qr_png(data) == [expected]
    svg = lw.admin.ok("post", QR, json={"end_device": device, "image": {"image_size": 250, "format": "svg"}})
    assert svg["text"] == expected and svg["image"]["embedded"]["mime_type"] == "image/svg+xml"
    text = base64.b64decode(svg["image"]["embedded"]["data"]).decode()
    assert "<svg" in text and 'width="' in text
    # the generated text parses back
    parsed = lw.u1.ok("post", f"{QR}/parse", json={"qr_code": b64(expected)})["end_device_template"]["end_device"]
    assert parsed == {**device, "ids": {"join_eui": JOIN_EUI, "dev_eui": dev_eui}}
    # no code: no O extension
    bare = lw.u1.ok("post", QR, json={"end_device": {"ids": {"join_eui": JOIN_EUI, "dev_eui": dev_eui}}})
    assert (
        bare["text"]
        == f"LW:D0:{JOIN_EUI}:{dev_eui}:00000000:C"
        + f"{crc16_modbus(f'LW:D0:{JOIN_EUI}:{dev_eui}:00000000'.encode()):04X}"
    )

    for size in (5, 1001):
        tts_error(lw.u1.post(QR, json={"end_device": device, "image": {"image_size": size}}), 400, "invalid_image_size")
    tts_error(lw.u1.post(QR, json={"format_id": "tr005draft2", "end_device": device}), 400, "invalid_argument")
    tts_error(lw.u1.post(QR, json={"format_id": "zzz", "end_device": device}), 404, "qr_format_not_found")
    tts_error(lw.u1.post(QR, json={"end_device": {"ids": {"dev_eui": dev_eui}}}), 400, "invalid_argument")
    tts_error(
        lw.u1.post(QR, json={"end_device": {"ids": {"join_eui": JOIN_EUI, "dev_eui": ZERO_EUI}}}), 400, "invalid_eui"
    )
    tts_error(
        lw.u1.post(QR, json={"end_device": {**device, "claim_authentication_code": {"value": "no-no"}}}),
        400,
        "invalid_claim_code",
    )
    tts_error(lw.u1.post(QR, json={}), 400, "invalid_argument")
    tts_error(httpx.post(lw_server.base_url + QR, json={"end_device": device}), 401, "unauthenticated")


def test_parse_qr_codes(lw: World, lw_server: LiveServer) -> None:
    code_mask = {"paths": ["claim_authentication_code.value", "ids.dev_eui", "ids.join_eui"]}
    vectors = {
        "LW:D0:1111111111111111:2222222222222222:AABB1122:O123456": (
            "tr005",
            {
                "ids": {"dev_eui": "2222222222222222", "join_eui": "1111111111111111"},
                "claim_authentication_code": {"value": "123456"},
                "lora_alliance_profile_ids": {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122},
            },
        ),
        "URN:DEV:LW:70B3D57ED0000000_0004A31000FFFFFF_00000000_VD53FFFFF": (
            "tr005draft3",
            {
                "ids": {"dev_eui": "0004A31000FFFFFF", "join_eui": "70B3D57ED0000000"},
                "claim_authentication_code": {"value": "D53FFFFF"},
            },
        ),
        "URN:LW:DP:42FFFFFFFFFFFFFF:4242FFFFFFFFFFFF:42FFFF42:%V0102": (
            "tr005draft2",
            {
                "ids": {"dev_eui": "4242FFFFFFFFFFFF", "join_eui": "42FFFFFFFFFFFFFF"},
                "claim_authentication_code": {"value": "0102"},
                "lora_alliance_profile_ids": {"vendor_id": 0x42FF, "vendor_profile_id": 0xFF42},
            },
        ),
        "0004A31000FFFFFF": ("dev_eui", {"ids": {"dev_eui": "0004A31000FFFFFF"}}),
        SPEC_EXAMPLE: (
            "tr005",
            {
                "ids": {"dev_eui": "AABBCCDDEEFF0011", "join_eui": "1122334455667788"},
                "claim_authentication_code": {"value": "AABBCCDDEEFF"},
                "lora_alliance_profile_ids": {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122},
                "serial_number": "YYWWNNNNNN",
            },
        ),
    }
    for text, (format_id, end_device) in vectors.items():
        mask = {"paths": ["ids.dev_eui"]} if format_id == "dev_eui" else code_mask
        expected = {"format_id": format_id, "end_device_template": {"end_device": end_device, "field_mask": mask}}
        assert lw.u1.ok("post", f"{QR}/parse", json={"qr_code": b64(text)}) == expected, text
        assert lw.u1.ok("post", f"{QR}/{format_id}/parse", json={"qr_code": b64(text)}) == expected, text
        assert lw.admin.ok("post", f"{QR}/parse", json={"qr_code": b64(text), "format_id": format_id}) == expected, text

    details = tts_error(
        lw.u1.post(f"{QR}/parse", json={"qr_code": b64(SPEC_EXAMPLE[:-1] + "D")}), 400, "qr_bad_checksum"
    )
    assert "AF2C" in details["message_format"]
    tts_error(lw.u1.post(f"{QR}/parse", json={"qr_code": b64("hello world, no QR text")}), 400, "qr_unknown_format")
    # a text of another format than the one named
    tts_error(lw.u1.post(f"{QR}/tr005/parse", json={"qr_code": b64("0004A31000FFFFFF")}), 400, "qr_invalid_format")
    tts_error(lw.u1.post(f"{QR}/nope/parse", json={"qr_code": b64("0004A31000FFFFFF")}), 400, "qr_unknown_format")
    tts_error(
        lw.u1.post(f"{QR}/parse", json={"qr_code": b64("LW:D0:XYZ:2222222222222222:AABB1122")}), 400, "qr_invalid_eui"
    )
    for bad in ("%%%", b64("short"), b64("L" * 1025), None):
        tts_error(lw.u1.post(f"{QR}/parse", json={"qr_code": bad}), 400, "invalid_argument")
    tts_error(
        httpx.post(f"{lw_server.base_url}{QR}/parse", json={"qr_code": b64(SPEC_EXAMPLE)}), 401, "unauthenticated"
    )


# The Things Stack's JSON: protojson reads camelCase and snake_case names, bytes in any base64 -----
def unpadded(text: str, url_safe: bool = False) -> str:
    encoded = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(text.encode()).decode()
    return encoded.rstrip("=")


def test_qr_code_in_unpadded_and_url_safe_base64(lw: World) -> None:
    """Issue 20: TTS's decoder (protobuf JSON ``bytes``) takes standard or URL-safe base64, padded or not."""
    device = register(lw.admin, serial_number="?????")  # "???" is "Pz8/" in base64; the text's length 71 needs "="
    text = device["qr_code"]
    encodings = [b64(text), unpadded(text), base64.urlsafe_b64encode(text.encode()).decode(), unpadded(text, True)]
    assert len(set(encodings)) == 4 and encodings[0].endswith("=") and "/" in encodings[0], encodings
    for encoded in encodings:
        parsed = lw.u1.ok("post", f"{QR}/parse", json={"qr_code": encoded})
        assert parsed["end_device_template"]["end_device"]["ids"]["dev_eui"] == dev_of(device), encoded
        assert lw.u1.ok("post", f"{QR}/tr005/parse", json={"qr_code": encoded})["format_id"] == "tr005"
    app = new_app()
    r = lw.u1.post(CLAIM, json={"qr_code": unpadded(text, True), "target_application_ids": {"application_id": app}})
    assert r.status_code == 200 and r.json() == claimed_ids(dev_of(device), app), r.text
    # still refused: a length no base64 has, characters of both alphabets, padding in the middle
    for bad in (unpadded(text) + "AB", "-" + encodings[1][1:], "TFc6=RDA6" + encodings[1]):
        tts_error(lw.u1.post(f"{QR}/parse", json={"qr_code": bad}), 400, "invalid_argument")


def test_tts_request_fields_in_camel_case(lw: World) -> None:
    """Issue 20: TTS's unmarshalers take lowerCamelCase JSON names as well as the proto names."""
    # the tenant registers in camelCase (TTS's EndDevice JSON as the Console writes it)
    dev_eui = new_eui()
    r = lw.admin.post(
        DEVICES,
        json={
            "ids": {"devEui": dev_eui, "joinEui": JOIN_EUI, "deviceId": uid("camel")},
            "claimAuthenticationCode": {"value": "CAFE0001", "validFrom": "2020-01-01T00:00:00Z"},
            "loraAllianceProfileIds": {"vendorId": 0xAABB, "vendorProfileId": 0x1122},
            "serialNumber": "SN-C",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ids"] == {"dev_eui": dev_eui, "join_eui": JOIN_EUI} and body["name"].startswith("camel-")
    assert body["claim_authentication_code"]["valid_from"] == "2020-01-01T00:00:00.000Z"
    assert body["lora_alliance_profile_ids"] == {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122}
    assert body["serial_number"] == "SN-C"
    renewed = lw.admin.ok(
        "post", f"{DEVICES}/{dev_eui}/claim-code", json={"value": "CAFE0002", "validTo": 4102444800000}
    )
    assert renewed["claim_authentication_code"]["valid_to"] == "2100-01-01T00:00:00.000Z"

    # claim info, single and batch
    assert lw.u1.ok("post", f"{CLAIM}/info", json={"joinEui": JOIN_EUI}) == {
        "join_eui": JOIN_EUI,
        "supports_claiming": True,
    }
    assert lw.u1.ok("post", f"{CLAIM}/info/batch", json={"requests": [{"joinEui": JOIN_EUI}]})["infos"] == [
        {"join_eui": JOIN_EUI, "supports_claiming": True}
    ]

    # claim by identifiers, camelCase all through, and in a batch
    app = new_app()
    r = lw.u1.post(
        CLAIM,
        json={
            "authenticatedIdentifiers": {"joinEui": JOIN_EUI, "devEui": dev_eui, "authenticationCode": "CAFE0002"},
            "targetApplicationIds": {"applicationId": app},
            "targetDeviceId": "camel-one",
        },
    )
    assert r.status_code == 200 and r.json() == claimed_ids(dev_eui, app, "camel-one"), r.text
    other = register(lw.admin)
    batch = lw.u1.ok(
        "post",
        f"{CLAIM}/batch",
        json={"requests": [{"qrCode": b64(other["qr_code"]), "targetApplicationIds": {"applicationId": app}}]},
    )
    assert [r["end_device_ids"] for r in batch["results"]] == [claimed_ids(dev_of(other), app)], batch

    # QR codes: parse and generate
    parsed = lw.u1.ok("post", f"{QR}/parse", json={"qrCode": b64(SPEC_EXAMPLE), "formatId": "tr005"})
    assert parsed["format_id"] == "tr005"
    made = lw.u1.ok(
        "post",
        QR,
        json={
            "formatId": "tr005",
            "endDevice": {
                "ids": {"joinEui": "1122334455667788", "devEui": "AABBCCDDEEFF0011"},
                "claimAuthenticationCode": {"value": "AABBCCDDEEFF"},
                "loraAllianceProfileIds": {"vendorId": 0xAABB, "vendorProfileId": 0x1122},
                "serialNumber": "YYWWNNNNNN",
            },
            "image": {"imageSize": 100},
        },
    )
    assert made["text"].startswith("LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122:OAABBCCDDEEFF:SYYWWNNNNNN:C")
    assert (
        png_size(base64.b64decode(made["image"]["embedded"]["data"]))[0] <= 100
    )  # imageSize read: not the 300 default

    # query parameters too: the batch unclaim's device ids
    r = lw.u1.delete(
        f"{CLAIM}/{app}/devices/batch", params={"deviceIds": ["camel-one", f"eui-{dev_of(other).lower()}"]}
    )
    assert r.status_code == 200 and r.json()["failed"] == {}, r.text
    assert app_devices(lw.u1, app)[0] == []

    # one field named twice, in both spellings, is refused (protojson: duplicate field)
    details = tts_error(
        lw.u1.post(f"{CLAIM}/info", json={"joinEui": JOIN_EUI, "join_eui": JOIN_EUI}), 400, "invalid_argument"
    )
    assert "join_eui" in details["message_format"] and "joinEui" in details["message_format"]


# import ------------------------------------------------------------------------------------------
def test_import_csv_streams_a_result_per_row(lw: World) -> None:
    good, plain, dup = new_eui(), new_eui(), new_eui()
    register(lw.admin, dup)
    name = uid("csv-sensor")
    text = (
        "id,dev_eui,app_eui,claim_authentication_code,valid_from,valid_to,vendor_id,vendor_profile_id,serial_number,color\n"
        f"{name},{good.lower()},{JOIN_EUI},c0de1234,2020-01-01T00:00:00Z,4102444800000,AABB,1122,SN1,red\n"
        f",{plain},,,,,,,,blue\n"
        "\n"
        ",zz,,,,,,,,\n"
        f",{dup},,,,,,,,\n"
        f",{new_eui()},,bad-code,,,,,,\n"
        f",{new_eui()},,,,,XYZ,,,\n"
    )
    lines = import_lines(
        lw.admin.post(f"{DEVICES}/import", content=text.encode(), headers={"Content-Type": "text/csv"})
    )
    assert [(x.get("row"), x.get("status")) for x in lines[:-1]] == [  # the blank line is not a row
        (1, "OK"),
        (2, "OK"),
        (3, "ERROR"),
        (4, "ERROR"),
        (5, "ERROR"),
        (6, "ERROR"),
    ]
    assert lines[-1] == {"total": 6, "succeeded": 2, "failed": 4}
    first, second = lines[0], lines[1]
    assert set(first) == {"row", "status", "id", "name", "dev_eui", "join_eui", "claim_authentication_code", "qr_code"}
    assert (first["name"], first["dev_eui"], first["join_eui"], first["claim_authentication_code"]) == (
        name,
        good,
        JOIN_EUI,
        "C0DE1234",
    )
    assert first["qr_code"] == tr005(JOIN_EUI, good, "C0DE1234", 0xAABB, 0x1122, "SN1")
    assert (second["name"], second["join_eui"]) == (f"eui-{plain.lower()}", ZERO_EUI)
    assert HEX8.match(second["claim_authentication_code"])
    assert [x["code"] for x in lines[2:5]] == ["INVALID_EUI", "DEV_EUI_TAKEN", "INVALID_CLAIM_CODE"]
    assert all(set(x) == {"row", "status", "code", "message"} and x["message"].strip() for x in lines[2:-1])
    assert "vendor_id" in lines[5]["message"]

    seen = get_device(lw, good)
    assert seen["id"] == first["id"] and seen["name"] == name
    assert seen["lora_alliance_profile_ids"] == {"vendor_id": 0xAABB, "vendor_profile_id": 0x1122}
    assert seen["serial_number"] == "SN1"
    assert (seen["claim_authentication_code"]["valid_from"], seen["claim_authentication_code"]["valid_to"]) == (
        "2020-01-01T00:00:00.000Z",
        "2100-01-01T00:00:00.000Z",
    )
    # the imported codes claim
    app = new_app()
    assert claim(lw.u1, good, "C0DE1234", app).json() == claimed_ids(good, app)
    r = claim(lw.u1, plain, second["claim_authentication_code"], app, join_eui=ZERO_EUI)
    assert r.json() == claimed_ids(plain, app, join_eui=ZERO_EUI), r.text


def test_import_answers_csv_on_request(lw: World) -> None:
    good = new_eui()
    r = lw.admin.post(
        f"{DEVICES}/import",
        params={"format": "csv"},
        content=f"dev_eui\n{good}\nbad\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [
        "row",
        "status",
        "id",
        "name",
        "dev_eui",
        "join_eui",
        "claim_authentication_code",
        "qr_code",
        "code",
        "message",
    ]
    assert len(rows) == 3
    ok = dict(zip(rows[0], rows[1], strict=True))
    assert (ok["row"], ok["status"], ok["dev_eui"], ok["join_eui"], ok["code"]) == ("1", "OK", good, ZERO_EUI, "")
    assert ok["qr_code"] == tr005(ZERO_EUI, good, ok["claim_authentication_code"])
    assert get_device(lw, good)["id"] == ok["id"]
    error = dict(zip(rows[0], rows[2], strict=True))
    assert (error["row"], error["status"], error["id"], error["code"]) == ("2", "ERROR", "", "INVALID_EUI")


def test_import_json_objects(lw: World) -> None:
    one, two, three = new_eui(), new_eui(), new_eui()
    name = uid("json-sensor")
    body = (
        json.dumps(
            {
                "ids": {"dev_eui": one, "join_eui": JOIN_EUI, "device_id": name},
                "claim_authentication_code": {"value": "PIN7"},
            }
        )
        + "\n"
        + json.dumps({"ids": {"dev_eui": "nope"}})  # concatenated, no newline
        + json.dumps(
            [
                {"dev_eui": two, "claim_authentication_code": "ABCD0001"},
                {"ids": {"dev_eui": three}, "lora_alliance_profile_ids": {"vendor_id": 70000}},
            ]
        )
        + "\n"
    )
    lines = import_lines(
        lw.admin.post(f"{DEVICES}/import", content=body.encode(), headers={"Content-Type": "application/x-ndjson"})
    )
    assert [(x.get("row"), x.get("status")) for x in lines[:-1]] == [(1, "OK"), (2, "ERROR"), (3, "OK"), (4, "ERROR")]
    assert lines[-1] == {"total": 4, "succeeded": 2, "failed": 2}
    assert (lines[0]["name"], lines[0]["claim_authentication_code"]) == (name, "PIN7")
    assert lines[0]["qr_code"] == tr005(JOIN_EUI, one, "PIN7")
    assert lines[1]["code"] == "INVALID_EUI"
    assert (lines[2]["dev_eui"], lines[2]["claim_authentication_code"]) == (two, "ABCD0001")
    problem(lw.admin.get(f"{DEVICES}/{three}"), 404)
    app = new_app()
    assert claim(lw.u1, one, "PIN7", app).json() == claimed_ids(one, app)


def test_import_error_rows_always_carry_a_code(lw: World) -> None:
    bad = {"ids": {"dev_eui": new_eui()}, "lora_alliance_profile_ids": {"vendor_id": 70000}}
    problem(lw.admin.post(DEVICES, json=bad), 400, "BAD_REQUEST")
    lines = import_lines(
        lw.admin.post(
            f"{DEVICES}/import", content=json.dumps(bad).encode(), headers={"Content-Type": "application/x-ndjson"}
        )
    )
    assert lines[0]["status"] == "ERROR" and lines[0]["code"] == "BAD_REQUEST", lines


def test_import_refusals(lw: World) -> None:
    csv_type = {"Content-Type": "text/csv"}
    body = problem(lw.admin.post(f"{DEVICES}/import", content=b"foo,bar\n1,2\n", headers=csv_type), 400)
    assert "dev_eui" in body["detail"]
    problem(lw.admin.post(f"{DEVICES}/import", content=b"", headers=csv_type), 400)
    problem(lw.admin.post(f"{DEVICES}/import", params={"format": "xml"}, content=b"dev_eui\n", headers=csv_type), 400)
    unregistered = new_eui()
    broken = json.dumps({"ids": {"dev_eui": unregistered}}) + ' {"ids": broken'
    problem(
        lw.admin.post(f"{DEVICES}/import", content=broken.encode(), headers={"Content-Type": "application/x-ndjson"}),
        400,
    )
    problem(lw.admin.get(f"{DEVICES}/{unregistered}"), 404)  # the file was refused whole
    problem(
        lw.u1.post(f"{DEVICES}/import", content=f"dev_eui\n{unregistered}\n".encode(), headers=csv_type),
        403,
        "FORBIDDEN",
    )
    problem(lw.admin.get(f"{DEVICES}/{unregistered}"), 404)


def test_import_rows_count_from_1_and_short_rows_are_refused(lw: World) -> None:
    """Issue 20: rows were counted from 1 in CSV and from 0 in JSON, and short rows silently accepted
    (a row without its code cell got a generated code)."""
    full, short, later = new_eui(), new_eui(), new_eui()
    text = (
        f"\n\ndev_eui,join_eui,claim_authentication_code\n"  # blank lines before the header are not rows
        f"{full},{JOIN_EUI},ABCD0001\n{short},{JOIN_EUI}\n\n{later},,\n"
    )
    lines = import_lines(
        lw.admin.post(f"{DEVICES}/import", content=text.encode(), headers={"Content-Type": "text/csv"})
    )
    assert [(x["row"], x["status"]) for x in lines[:-1]] == [(1, "OK"), (2, "ERROR"), (3, "OK")]
    assert lines[1]["code"] == "BAD_REQUEST" and "2 cells" in lines[1]["message"] and "header 3" in lines[1]["message"]
    problem(lw.admin.get(f"{DEVICES}/{short}"), 404)
    assert lines[-1] == {"total": 3, "succeeded": 2, "failed": 1}
    # a file error names the device from 1 too
    broken = json.dumps({"ids": {"dev_eui": new_eui()}}) + "\n" + '{"ids": broken'
    body = problem(
        lw.admin.post(f"{DEVICES}/import", content=broken.encode(), headers={"Content-Type": "application/x-ndjson"}),
        400,
    )
    assert body["detail"].startswith("device 2:"), body


def test_import_upload_is_bounded(lw: World) -> None:
    """Issue 20: the whole upload is read before anything is registered, up to CLAIMD_HTTP_MAX_UPLOAD_BYTES
    (413 beyond, by Content-Length or by the bytes counted for a chunked body); nothing is registered."""
    first = new_eui()
    text = f"dev_eui\n{first}\n" + "".join(f"{new_eui()}\n" for _ in range(UPLOAD_LIMIT // 17 + 100))
    assert len(text) > UPLOAD_LIMIT
    csv_type = {"Content-Type": "text/csv"}
    body = problem(lw.admin.post(f"{DEVICES}/import", content=text.encode(), headers=csv_type), 413, "TOO_LARGE")
    assert str(UPLOAD_LIMIT) in body["detail"] and "CLAIMD_HTTP_MAX_UPLOAD_BYTES" in body["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: the bytes must be counted
        data = text.encode()
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    problem(lw.admin.post(f"{DEVICES}/import", content=chunked(), headers=csv_type), 413, "TOO_LARGE")
    problem(lw.admin.get(f"{DEVICES}/{first}"), 404)
    # just under the limit is fine
    fits = f"dev_eui\n{first}\n".encode()
    fits += b"\n" * (UPLOAD_LIMIT - len(fits))  # blank lines: not rows
    assert len(fits) == UPLOAD_LIMIT
    lines = import_lines(lw.admin.post(f"{DEVICES}/import", content=fits, headers=csv_type))
    assert lines[0]["status"] == "OK" and lines[-1]["total"] == 1, lines


# bulk claim jobs ---------------------------------------------------------------------------------
def test_bulk_claim_job_and_codes_are_never_stored_in_plain_text(lw: World, lw_server: LiveServer) -> None:
    codes = [f"Lw{secrets.token_hex(6)}" for _ in range(4)]  # letters in each: no clash with hex or numbers
    devices = [register(lw.admin, claim_authentication_code=c, serial_number=f"SN-{i}") for i, c in enumerate(codes)]
    wrong_code = f"Lw{secrets.token_hex(6)}"
    app, other = new_app("bulk"), new_app("bulk")
    rows = [
        "join_eui,dev_eui,authentication_code,application_id,device_id",  # a header: skipped
        f"{JOIN_EUI.lower()},{dev_of(devices[0]).lower()},{codes[0]}",
        f'"{devices[1]["qr_code"]}",{other},scanned',
        f"{JOIN_EUI},{dev_of(devices[2])},{wrong_code}",
        "garbage",
        f"{JOIN_EUI},{dev_of(devices[3])},{codes[3]},,named",
    ]
    r = lw.u1.post(
        "/v1/lorawan-claims/bulk",
        params={"application_id": app},
        content="\n".join(rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    op_id = r.json()["bulkOpsRequestId"]
    assert r.json() == {"bulkOpsRequestId": op_id} and r.headers["Location"] == f"/v1/bulk-ops-requests/{op_id}"
    op = wait_op(lw.u1, op_id)
    assert op["status"] == "FAILED" and op["outcome"] == "PARTIAL", op
    assert (op["total"], op["succeeded"], op["failed"]) == (5, 3, 2), op
    assert op["endpoint"] == "CLAIM_LORAWAN_DEVICES" and op["applicationId"] == app
    assert "uploadedDataUrl" not in op
    problem(lw.u1.get(f"/v1/bulk-ops-requests/{op_id}/upload.csv"), 410)

    results = lw.u1.ok("get", f"/v1/bulk-ops-requests/{op_id}/results.json")
    assert [(x["row"], x["status"]) for x in results] == [(1, "OK"), (2, "OK"), (3, "ERROR"), (4, "ERROR"), (5, "OK")]
    assert [results[i]["deviceId"] for i in (0, 1, 4)] == [devices[0]["id"], devices[1]["id"], devices[3]["id"]]
    assert results[2]["deviceId"] is None and results[2]["message"].startswith("DEVICE_ACCESS_DENIED")
    assert results[3]["message"].strip()
    errors = lw.u1.ok("get", f"/v1/bulk-ops-requests/{op_id}/errors.json")["errors"]
    assert [e.split("]")[0] for e in errors] == ["[3", "[4"]

    assert [d["ids"]["device_id"] for d in app_devices(lw.u1, app)[0]] == [f"eui-{dev_of(devices[0]).lower()}", "named"]
    assert [d["ids"]["device_id"] for d in app_devices(lw.u1, other)[0]] == ["scanned"]
    for i, owner in enumerate([lw.c1_id, lw.c1_id, None, lw.c1_id]):
        assert get_device(lw, dev_of(devices[i]))["owner_id"] == owner
    # the refused row is in the tenant's audit log, as from the bulk door
    log = lw.admin.ok("get", f"/api/audit/logs/entity/DEVICE/{devices[2]['id']}", params={"pageSize": 10, "page": 0})
    assert [(e["actionStatus"], e["door"]) for e in log["data"]] == [("DEVICE_ACCESS_DENIED", "BULK")]

    # the job is its submitter's customer's; only customer users submit; application ids are checked
    problem(lw.u2.get(f"/v1/bulk-ops-requests/{op_id}"), 404)
    problem(lw.admin.post("/v1/lorawan-claims/bulk", content=b"x", headers={"Content-Type": "text/csv"}), 403)
    problem(
        lw.u1.post(
            "/v1/lorawan-claims/bulk",
            params={"application_id": "Bad_App"},
            content=b"x",
            headers={"Content-Type": "text/csv"},
        ),
        400,
        "INVALID_ID",
    )
    r = lw.u1.post(
        "/v1/lorawan-claims/bulk", content=f"{JOIN_EUI},{new_eui()},ABCD".encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 202, r.text
    op = wait_op(lw.u1, r.json()["bulkOpsRequestId"])
    (row,) = lw.u1.ok("get", f"/v1/bulk-ops-requests/{op['bulkOpsRequestId']}/results.json")
    assert row["row"] == 1 and row["status"] == "ERROR" and "application_id" in row["message"]

    # no code in plain text anywhere: not in the devices' digests, not in the sealed upload
    renewed = f"Lw{secrets.token_hex(6)}"
    lw.admin.ok("post", f"{DEVICES}/{dev_of(devices[2])}/claim-code", json={"value": renewed})
    stored = "\n".join(database_rows(lw_server))
    assert dev_of(devices[0]) in stored  # the dump does hold the devices
    for secret in [*codes, wrong_code, renewed]:
        assert secret not in stored, secret
    log_text = lw_server.log()
    for secret in [*codes, wrong_code, renewed]:
        assert secret not in log_text, secret
