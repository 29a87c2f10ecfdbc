"""The console's Devices and Audit log pages in a real browser (tenant admins): search, filters, keyset
"Next page", one device with its audit history and no secret, the audit log's filters, roles,
accessibility and screenshots."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from browser_helpers import check_page
from http_helpers import USER_PASSWORD, Device, World, uid
from servers import LiveServer

pytestmark = pytest.mark.browser

FLEET = 53  # more than a page (50)


def sign_in(page: Any, base_url: str, email: str, password: str = USER_PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


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
    for path in ("/console/devices", f"/console/devices/{fleet['devices'][1].id}", "/console/audit"):
        page.goto(web_server.base_url + path)
        assert page.url == web_server.base_url + "/claim", path
    context.clear_cookies()
    page.goto(web_server.base_url + "/console/devices")
    assert "/login" in page.url
