"""The console's Devices and Audit log pages in a real browser (tenant admins): search, filters, keyset
"Next page", one device with its audit history and no secret, the audit log's filters, roles,
accessibility and screenshots; the device page's actions: block and unblock, release with a confirmation,
tags, a new key and label, a new LoRaWAN claim code and QR, CSRF on each of their forms."""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import check_page, sign_in
from http_helpers import Device, World, assert_outcome, uid
from servers import LiveServer

pytestmark = pytest.mark.browser

FLEET = 53  # more than a page (50)


def shown(page: Any) -> list[str]:
    """The device names of the list, in order."""
    return page.get_by_role("list", name="Devices found").get_by_role("heading").all_inner_texts()


@pytest.fixture(scope="module")
def fleet(web_world: World) -> dict[str, Any]:
    """FLEET devices named <prefix>-00 … in the tenant; two assigned to C1 (one of them tagged "red"),
    one blocked, one with an open claim window, one with a server-side key."""
    prefix = uid("cd")
    devices = [web_world.device(f"{prefix}-{n:02d}") for n in range(FLEET)]
    admin = web_world.admin
    for device in devices[1:3]:
        admin.ok("post", f"/api/customer/{web_world.c1_id}/device/{device.id}")
    admin.ok("post", f"/v1/claimed-devices/{devices[2].id}/tags", json={"tags": ["red"]})
    admin.ok("post", f"/v1/claimed-devices/{devices[4].id}/block")
    window_key, stored_key = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    web_world.window(devices[5], {"secretKey": window_key, "durationMs": 600_000})
    web_world.save_server_attributes(
        devices[6], {"claimingData": {"secretKey": stored_key, "expirationTime": 4_102_444_800_000}}
    )
    return {"prefix": prefix, "devices": devices, "secrets": (window_key, stored_key)}


def admin_page(context: Any, server: LiveServer) -> Any:
    page = context.new_page()
    sign_in(page, server.base_url, server.admin_email, server.admin_password)
    page.get_by_role("link", name="Devices", exact=True).click()
    page.wait_for_load_state()
    return page


def test_devices_search_filters_and_next_page(context: Any, web_server: LiveServer, fleet: dict[str, Any]) -> None:
    prefix, devices = fleet["prefix"], fleet["devices"]
    names = [d.name for d in devices]
    page = admin_page(context, web_server)
    assert page.url == web_server.base_url + "/console/devices"
    assert page.get_by_role("heading", name="Devices", exact=True).is_visible()
    assert len(shown(page)) == 50
    check_page(page, "console-devices")

    page.get_by_label("Search devices").fill(prefix)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == names[:50]
    page.get_by_role("link", name="Next page").click()
    page.wait_for_load_state()
    assert shown(page) == names[50:]
    assert "after_name=" in page.url and "after_id=" in page.url
    assert page.get_by_role("link", name="Next page").count() == 0
    assert page.get_by_label("Search devices").input_value() == prefix
    check_page(page, "console-devices-next-page")

    page.get_by_role("link", name="First page").click()
    page.wait_for_load_state()
    assert page.get_by_label("Search devices").input_value() == prefix
    page.get_by_label("State").select_option("blocked")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == [names[4]]
    page.get_by_label("State").select_option("claimed")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == names[1:3]
    page.get_by_label("State").select_option("")
    page.get_by_label("Tag").select_option("red")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == [names[2]]
    page.get_by_label("Tag").select_option("")
    page.get_by_label("Kind").select_option("key")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == [names[5], names[6]]  # a window kept in SQL, and a server-side key
    check_page(page, "console-devices-kind")


def test_the_owner_filter_by_customer(context: Any, web_server: LiveServer, web_world: World, fleet: dict) -> None:
    names = [d.name for d in fleet["devices"]]
    page = admin_page(context, web_server)
    page.get_by_label("Search devices").fill(fleet["prefix"])
    page.get_by_label("Owner").select_option(web_world.c1_id)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert shown(page) == names[1:3]
    assert page.get_by_label("Owner").input_value() == web_world.c1_id
    assert "red" in page.get_by_role("list", name="Devices found").inner_text()
    assert web_world.c1["title"] in page.get_by_role("list", name="Devices found").inner_text()
    check_page(page, "console-devices-owner")
    page.get_by_label("Owner").select_option(web_world.c2_id)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    assert "No device matches" in page.get_by_role("main").inner_text()


def test_one_device_with_its_history_and_no_secret(
    context: Any, web_server: LiveServer, web_world: World, fleet: dict[str, Any]
) -> None:
    devices: list[Device] = fleet["devices"]
    page = admin_page(context, web_server)
    page.get_by_label("Search devices").fill(devices[2].name)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_load_state()
    page.get_by_role("link", name=devices[2].name, exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=devices[2].name).is_visible()
    main = page.get_by_role("main").inner_text()
    assert web_world.c1["title"] in main and "red" in main
    history = page.get_by_role("table")
    assert "ASSIGN" in history.inner_text() and "ASSIGNED" in history.inner_text()
    check_page(page, "console-device")

    for device in devices[5:7]:  # the window's key and the stored key never reach the page
        page.goto(f"{web_server.base_url}/console/devices/{device.id}")
        html = page.content()
        for secret in fleet["secrets"]:
            assert secret not in html
        assert "Secret key" in html
    assert re.search(r"Set \(claimingData\), expires 2100-01-01", page.get_by_role("main").inner_text())
    check_page(page, "console-device-key")
    page.goto(f"{web_server.base_url}/console/devices/{fleet['devices'][5].id}")
    assert "Until " in page.get_by_role("main").inner_text()  # the window, kept in SQL here

    page.goto(f"{web_server.base_url}/console/devices/00000000-0000-0000-0000-000000000000")
    assert "No such device" in page.get_by_role("main").inner_text()


def test_the_audit_log_filters(context: Any, web_server: LiveServer, fleet: dict[str, Any]) -> None:
    devices: list[Device] = fleet["devices"]
    page = context.new_page()
    sign_in(page, web_server.base_url, web_server.admin_email, web_server.admin_password)
    page.get_by_role("link", name="Audit log", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Audit log").is_visible()
    check_page(page, "console-audit")
    page.get_by_label("Device name").fill(devices[4].name)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    rows = page.get_by_role("table").inner_text()
    assert "BLOCK" in rows and devices[4].name in rows and devices[2].name not in rows
    page.get_by_label("Device name").fill("")
    page.get_by_label("Action").select_option("ASSIGN")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    body = page.get_by_role("table").get_by_role("row").all_inner_texts()[1:]
    assert body and all("ASSIGN" in row for row in body)
    check_page(page, "console-audit-filtered")


def test_a_customer_user_is_sent_away(context: Any, web_server: LiveServer, web_world: World, fleet: dict) -> None:
    page = context.new_page()
    sign_in(page, web_server.base_url, web_world.u1.ok("get", "/api/auth/user")["email"])
    device = fleet["devices"][1]
    pages = ("", "/release", "/new-key", "/new-code")
    for path in ("/console/devices", *(f"/console/devices/{device.id}{end}" for end in pages), "/console/audit"):
        page.goto(web_server.base_url + path)
        assert page.url == web_server.base_url + "/claim", path
    for action in ("block", "unblock", "tags", "release", "new-key", "new-code"):  # a valid token: still sent away
        r = page.request.post(f"{web_server.base_url}/console/devices/{device.id}/{action}", form={**csrf_of(context)})
        assert r.url == web_server.base_url + "/claim", action
    seen = web_world.admin.ok("get", f"/v1/claimed-devices/{device.id}")
    assert seen["blockedAt"] is None and web_world.owner(device) == web_world.c1_id
    context.clear_cookies()
    page.goto(web_server.base_url + "/console/devices")
    assert "/login" in page.url


# the device page's actions -------------------------------------------------------------------------
CLAIM_TTS = "/api/v3/edcs/claim"
JOIN_EUI = "70B3D57ED0000000"


def csrf_of(context: Any) -> dict[str, str]:
    return {"csrf_token": str({c["name"]: c["value"] for c in context.cookies()}["claimd_csrf"])}


def device_page(context: Any, server: LiveServer, device_id: str) -> Any:
    page = context.new_page()
    sign_in(page, server.base_url, server.admin_email, server.admin_password)
    page.goto(f"{server.base_url}/console/devices/{device_id}")
    return page


def fact(page: Any, name: str) -> str:
    return str(page.locator(f"dl.facts dt:text-is('{name}') + dd").first.inner_text()).strip()


def status(page: Any) -> str:
    return str(page.get_by_role("status").inner_text())


def alert(page: Any) -> str:
    return str(page.get_by_role("alert").inner_text())


def history(page: Any) -> list[str]:
    return list(page.get_by_role("table").get_by_role("row").all_inner_texts()[1:])


def test_block_and_unblock(context: Any, web_server: LiveServer, web_world: World) -> None:
    device = web_world.device(uid("blk"))
    page = device_page(context, web_server, device.id)
    assert fact(page, "State") == "Unclaimed" and fact(page, "Blocked") == "No"
    page.get_by_role("button", name="Block", exact=True).click()
    page.wait_for_load_state()
    assert f"Blocked {device.name}." in status(page)
    assert fact(page, "State") == "Blocked" and fact(page, "Blocked").startswith("Yes, since")
    assert re.search(r"BLOCK\s+TENANT\s+WEB", history(page)[0]), history(page)
    check_page(page, "console-device-blocked")
    page.reload()  # the message belongs to the redirect, the state to the device
    assert fact(page, "State") == "Blocked"

    page.get_by_role("button", name="Unblock", exact=True).click()
    page.wait_for_load_state()
    assert f"Unblocked {device.name}." in status(page)
    assert fact(page, "State") == "Unclaimed" and fact(page, "Blocked") == "No"
    assert re.search(r"UNBLOCK\s+TENANT\s+WEB", history(page)[0]), history(page)
    assert page.get_by_role("button", name="Block", exact=True).is_visible()


def test_release_with_a_confirmation(context: Any, web_server: LiveServer, web_world: World) -> None:
    device = web_world.device(uid("rel"))
    web_world.admin.ok("post", f"/api/customer/{web_world.c1_id}/device/{device.id}")
    web_world.u1.ok("post", f"/v1/claimed-devices/{device.id}/tags", json={"tags": ["theirs"]})
    web_world.admin.ok("post", f"/v1/claimed-devices/{device.id}/tags", json={"tags": ["ours"]})
    page = device_page(context, web_server, device.id)
    assert fact(page, "Owner") == web_world.c1["title"] and fact(page, "State") == "Claimed"
    assert fact(page, "Tags") == "ours"  # the tenant's tags; the customer's are its own
    assert page.get_by_role("button", name="New key and label").count() == 0  # owned: release first

    page.get_by_role("button", name="Release", exact=True).click()
    page.wait_for_load_state()
    assert f"/console/devices/{device.id}/release" in page.url
    assert page.get_by_role("heading", name=f"Release {device.name}?").is_visible()
    assert web_world.c1["title"] in page.get_by_role("main").inner_text()
    check_page(page, "console-device-release")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state()
    assert fact(page, "Owner") == web_world.c1["title"]

    page.get_by_role("button", name="Release", exact=True).click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Release", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/console/devices/{device.id}?done=released")
    assert f"Released {device.name}." in status(page)
    assert fact(page, "State") == "Unclaimed" and fact(page, "Owner") == "No customer"
    assert fact(page, "Tags") == "ours"
    assert re.search(r"RECLAIM\s+UNASSIGNED\s+WEB", history(page)[0]), history(page)
    assert web_world.get_device(device)["customerId"]["id"] == "13814000-1dd2-11b2-8080-808080808080"
    assert web_world.u1.get(f"/v1/claimed-devices/{device.id}").status_code == 404
    web_world.admin.ok("post", f"/api/customer/{web_world.c1_id}/device/{device.id}")  # back: its old tags are gone
    assert web_world.u1.ok("get", f"/v1/claimed-devices/{device.id}")["tags"] == []
    # nothing to release any more: the page says so and stays
    assert web_world.admin.delete(f"/v1/claimed-devices/{device.id}").status_code == 204
    page.goto(f"{web_server.base_url}/console/devices/{device.id}/release")
    assert "has no owner" in alert(page) and page.get_by_role("heading", name=device.name).is_visible()


def test_tags_are_set_and_shown(context: Any, web_server: LiveServer, web_world: World) -> None:
    device = web_world.device(uid("tag"))
    web_world.admin.ok("post", f"/api/customer/{web_world.c1_id}/device/{device.id}")
    page = device_page(context, web_server, device.id)
    assert fact(page, "Tags") == "None" and page.get_by_label("Tags").input_value() == ""
    page.get_by_label("Tags").fill("blue, green , blue")
    page.get_by_role("button", name="Save tags").click()
    page.wait_for_load_state()
    assert f"Saved the tags of {device.name}." in status(page)
    assert fact(page, "Tags") == "blue, green" and page.get_by_label("Tags").input_value() == "blue, green"
    assert web_world.admin.ok("get", f"/v1/claimed-devices/{device.id}")["tags"] == ["blue", "green"]

    too_long = "x" * 101
    page.get_by_label("Tags").fill(f"blue, {too_long}")
    page.get_by_role("button", name="Save tags").click()
    page.wait_for_load_state()
    assert "at most 100 characters" in alert(page)
    assert page.get_by_label("Tags").input_value() == f"blue, {too_long}"  # nothing typed is lost
    assert fact(page, "Tags") == "blue, green"
    check_page(page, "console-device-tags-refused")

    page.get_by_label("Tags").fill("")
    page.get_by_role("button", name="Save tags").click()
    page.wait_for_load_state()
    assert fact(page, "Tags") == "None"
    assert web_world.admin.ok("get", f"/v1/claimed-devices/{device.id}")["tags"] == []


def test_a_new_key_and_label_replace_the_old_key(
    context: Any, web_server: LiveServer, web_world: World, tmp_path: Path
) -> None:
    device = web_world.device(uid("key"))
    old_key = secrets.token_urlsafe(12)
    web_world.save_server_attributes(
        device, {"claimingData": {"secretKey": old_key, "expirationTime": 4_102_444_800_000}}
    )
    page = device_page(context, web_server, device.id)
    page.get_by_role("button", name="New key and label").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=f"New key and label for {device.name}?").is_visible()
    assert "replaces the device's old secret key" in page.get_by_role("main").inner_text()
    check_page(page, "console-device-new-key-confirm")
    page.get_by_role("button", name="Replace the key").click()
    page.wait_for_load_state()
    assert "shown once" in status(page)
    new_key = page.locator("#secret-key").inner_text()
    assert new_key and new_key != old_key
    assert f"deviceName={device.name}" in page.locator("#claim-link").inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download label").click()
    label = tmp_path / "label.svg"
    info.value.save_as(label)
    assert device.name in label.read_text() and label.read_text().startswith("<svg")
    check_page(page, "console-device-new-key")

    page.goto(f"{web_server.base_url}/console/devices/{device.id}")  # never shown again
    assert new_key not in page.content() and old_key not in page.content()
    assert fact(page, "Secret key").startswith("Set (claimingData)")
    assert_outcome(web_world.u1.claim(device.name, {"secretKey": old_key}), "FAILURE")
    r = web_world.u1.claim(device.name, {"secretKey": new_key})
    assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text

    # owned now: a new key is refused, in words, on the device page
    r = page.request.post(f"{web_server.base_url}/console/devices/{device.id}/new-key", form=csrf_of(context))
    assert r.status == 409 and "has an owner: release it first" in r.text()
    page.reload()
    assert page.get_by_role("button", name="New key and label").count() == 0


def test_a_lorawan_device_gets_a_new_claim_code_and_qr(context: Any, web_server: LiveServer, web_world: World) -> None:
    eui = secrets.token_hex(8).upper()
    r = web_world.admin.post("/v1/lorawan-devices", json={"ids": {"dev_eui": eui, "join_eui": JOIN_EUI}})
    assert r.status_code == 201, r.text
    registered = r.json()
    page = device_page(context, web_server, registered["id"])
    assert page.get_by_role("button", name="New key and label").count() == 0
    page.get_by_role("button", name="New claim code and QR").click()
    page.wait_for_load_state()
    assert "replaces the device's old claim code" in page.get_by_role("main").inner_text()
    page.get_by_role("button", name="Replace the claim code").click()
    page.wait_for_load_state()
    assert "shown once" in status(page)
    text = page.locator("#qr-text").inner_text()
    code = page.locator("#claim-code").inner_text()
    assert text.startswith(f"LW:D0:{JOIN_EUI}:{eui}:") and f":O{code}:" in text and text != registered["qr_code"]
    assert page.get_by_role("img", name=f"TR005 QR code of {registered['name']}").is_visible()
    check_page(page, "console-device-new-code")

    page.goto(f"{web_server.base_url}/console/devices/{registered['id']}")  # never shown again
    assert text not in page.content() and code not in page.content()
    app = {"application_id": uid("app").lower()}
    old = web_world.u1.post(CLAIM_TTS, json={"qr_code": b64(registered["qr_code"]), "target_application_ids": app})
    assert old.status_code >= 400, old.text
    new = web_world.u1.post(CLAIM_TTS, json={"qr_code": b64(text), "target_application_ids": app})
    assert new.status_code == 200, new.text
    page.reload()
    assert fact(page, "Owner") == web_world.c1["title"]
    r = page.request.post(f"{web_server.base_url}/console/devices/{registered['id']}/new-code", form=csrf_of(context))
    assert r.status == 409 and "has an owner" in r.text()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_every_action_refuses_a_post_without_its_csrf_token(
    context: Any, web_server: LiveServer, web_world: World
) -> None:
    free, owned = web_world.device(uid("csrf")), web_world.device(uid("csrf"))
    web_world.admin.ok("post", f"/api/customer/{web_world.c1_id}/device/{owned.id}")
    old_key = secrets.token_urlsafe(12)
    web_world.save_server_attributes(
        free, {"claimingData": {"secretKey": old_key, "expirationTime": 4_102_444_800_000}}
    )
    eui = secrets.token_hex(8).upper()
    lorawan = web_world.admin.post("/v1/lorawan-devices", json={"ids": {"dev_eui": eui, "join_eui": JOIN_EUI}}).json()
    page = device_page(context, web_server, free.id)
    base = f"{web_server.base_url}/console/devices"
    wrong = {"csrf_token": "wrong"}
    for device_id, action, form in (
        (free.id, "block", wrong),
        (owned.id, "block", {}),
        (owned.id, "tags", {**wrong, "tags": "nope"}),
        (owned.id, "release", wrong),
        (free.id, "new-key", wrong),
        (lorawan["id"], "new-code", wrong),
    ):
        r = page.request.post(f"{base}/{device_id}/{action}", form=form)
        assert r.status == 403 and "This form had expired, so nothing was done" in r.text(), (action, r.status)
        assert 'role="alert"' in r.text()
    web_world.admin.ok("post", f"/v1/claimed-devices/{owned.id}/block")
    r = page.request.post(f"{base}/{owned.id}/unblock", form=wrong)
    assert r.status == 403 and "expired" in r.text()
    seen = web_world.admin.ok("get", f"/v1/claimed-devices/{owned.id}")
    assert seen["blockedAt"] is not None and seen["tags"] == []  # still blocked, no tags
    assert web_world.owner(owned) == web_world.c1_id
    r = web_world.u2.claim(free.name, {"secretKey": old_key})  # not blocked, and the old key still claims
    assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text
    app = {"application_id": uid("app").lower()}
    r = web_world.u2.post(CLAIM_TTS, json={"qr_code": b64(lorawan["qr_code"]), "target_application_ids": app})
    assert r.status_code == 200, r.text  # the old code still claims
