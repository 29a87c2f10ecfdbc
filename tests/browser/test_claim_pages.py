"""The customer's pages in a real browser: sign in, claim (typed, claim link, camera, uploaded photo,
LoRaWAN QR text), each refusal in words, "My devices" with release, CSRF, accessibility, screenshots."""

from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from browser_helpers import check_page, launch, offline_context, sign_in, write_y4m
from http_helpers import USER_PASSWORD, Api, Device, World, make_world, uid
from live_fixtures import serving
from servers import REAL_LOCKOUTS, LiveServer

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of
from claimd.adapters.qrimage import render_png

pytestmark = pytest.mark.browser

WINDOW_MS = 600_000
JOIN_EUI = "70B3D57ED0000000"


# helpers ---------------------------------------------------------------------------------------
def email_of(api: Api) -> str:
    return api.ok("get", "/api/auth/user")["email"]


def keyed_device(world: World, key: str | None = None) -> tuple[Device, str]:
    """A new device whose claim window is open with a fresh secret key."""
    device = world.device()
    key = key or secrets.token_urlsafe(8)
    world.window(device, {"secretKey": key, "durationMs": WINDOW_MS})
    return device, key


def claim_link(base_url: str, device: Device, key: str) -> str:
    return f"{base_url}/claim?{urlencode({'deviceName': device.name, 'secretKey': key})}"


def owner(world: World, device: Device) -> str | None:
    customer = world.get_device(device)["customerId"]
    return None if customer["id"] == "13814000-1dd2-11b2-8080-808080808080" else customer["id"]


def owner_of_id(world: World, device_id: str) -> str | None:
    customer = world.admin.ok("get", f"/api/device/{device_id}")["customerId"]["id"]
    return None if customer == "13814000-1dd2-11b2-8080-808080808080" else str(customer)


def success(page: Any, device_name: str) -> None:
    status = page.get_by_role("status").filter(has_text="You now own")
    assert device_name in status.inner_text()
    assert status.get_by_role("link", name="My devices").is_visible()


def alert(page: Any) -> str:
    return page.get_by_role("alert").inner_text()


# sign-in ---------------------------------------------------------------------------------------
def test_sign_in_lands_a_customer_on_the_claim_page(context: Any, web_server: LiveServer, web_world: World) -> None:
    page = context.new_page()
    page.goto(web_server.base_url + "/")
    check_page(page, "sign-in")
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    assert page.url == web_server.base_url + "/claim"
    assert page.get_by_role("heading", name="Claim a device").is_visible()
    assert page.get_by_role("link", name="My devices").is_visible()
    check_page(page, "claim")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["claimd_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert cookies["claimd_csrf"]["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(web_server.base_url + "/login")
    page.goto(web_server.base_url + "/claim")  # signed out: back to sign-in
    assert "/login" in page.url


def test_a_wrong_password_is_refused_in_words(context: Any, web_server: LiveServer, web_world: World) -> None:
    page = context.new_page()
    email = email_of(web_world.u1)
    sign_in(page, web_server.base_url, email, "not-the-password")
    assert "e-mail or the password is wrong" in alert(page)
    assert page.get_by_label("Email").input_value() == email
    check_page(page, "sign-in-refused")


def test_a_tenant_admin_lands_on_the_console(context: Any, web_server: LiveServer, web_world: World) -> None:
    device = web_world.device()
    page = context.new_page()
    sign_in(page, web_server.base_url, web_server.admin_email, web_server.admin_password)
    assert page.url == web_server.base_url + "/console/"
    for link in ("Overview", "Devices", "Provisioning", "Audit log"):
        assert page.get_by_role("link", name=link, exact=True).is_visible()
    assert page.get_by_role("heading", name="Overview").is_visible()
    check_page(page, "console-overview")
    page.get_by_role("link", name="Devices", exact=True).click()
    assert page.get_by_label("Search devices").is_visible()  # tests/browser/test_console_devices.py tests the page
    assert page.get_by_role("link", name=device.name, exact=True).is_visible()


# claiming --------------------------------------------------------------------------------------
def test_claim_by_typing(context: Any, web_server: LiveServer, web_world: World) -> None:
    device, key = keyed_device(web_world)
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Device name").fill(device.name)
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, device.name)
    assert owner(web_world, device) == web_world.c1_id
    check_page(page, "claim-success")
    page.get_by_role("status").get_by_role("link", name="My devices").click()
    assert device.name in page.get_by_role("main").inner_text()


def test_claim_from_a_claim_link_after_signing_in(context: Any, web_server: LiveServer, web_world: World) -> None:
    device, key = keyed_device(web_world)
    page = context.new_page()
    link = claim_link(web_server.base_url, device, key)
    page.goto(link)  # not signed in yet: sign-in first, then back to the link
    assert "/login" in page.url
    page.get_by_label("Email").fill(email_of(web_world.u1))
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/claim$"))  # the page drops the key from the address bar
    assert page.get_by_label("Device name").input_value() == device.name
    assert page.get_by_label("Secret key").input_value() == key
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, device.name)
    assert owner(web_world, device) == web_world.c1_id


def test_claim_by_the_camera(playwright_driver: Any, web_server: LiveServer, web_world: World, tmp_path: Path) -> None:
    device, key = keyed_device(web_world)
    video = tmp_path / "label.y4m"
    write_y4m(render_png(claim_link(web_server.base_url, device, key), size=300), video)
    camera = launch(
        playwright_driver,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        ctx = offline_context(camera)
        page = ctx.new_page()
        sign_in(page, web_server.base_url, email_of(web_world.u1))
        page.get_by_role("button", name="Scan QR code").click()
        page.wait_for_function(
            "name => document.getElementById('device_name').value === name", arg=device.name, timeout=15_000
        )
        assert page.get_by_label("Secret key").input_value() == key
        assert "Press Claim" in page.locator("#scan-status").inner_text()
        page.keyboard.press("Enter")  # the Claim button has the focus: one press
        success(page, device.name)
        assert owner(web_world, device) == web_world.c1_id
        assert ctx.outside == []
        ctx.close()
    finally:
        camera.close()


def test_claim_by_an_uploaded_photo(context: Any, web_server: LiveServer, web_world: World, tmp_path: Path) -> None:
    device, key = keyed_device(web_world)
    label = tmp_path / "label.png"
    label.write_bytes(render_png(claim_link(web_server.base_url, device, key), size=400))
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Upload photo").set_input_files(str(label))
    page.wait_for_function("name => document.getElementById('device_name').value === name", arg=device.name)
    assert page.get_by_label("Secret key").input_value() == key
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, device.name)


def test_claim_by_a_lorawan_qr_text(context: Any, web_server: LiveServer, web_world: World) -> None:
    eui = secrets.token_hex(8).upper()
    r = web_world.admin.post("/v1/lorawan-devices", json={"ids": {"dev_eui": eui, "join_eui": JOIN_EUI}})
    assert r.status_code == 201, r.text
    registered = r.json()
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    assert not page.get_by_label("Application").is_visible()  # shown for LoRaWAN codes only
    page.get_by_label("Code").fill(registered["qr_code"])
    assert page.get_by_label("Application").input_value() == "default"
    app = uid("field")
    page.get_by_label("Application").fill(app)
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, registered["name"])
    apps = web_world.u1.ok("get", "/api/v3/applications")["applications"]
    assert app in [a["ids"]["application_id"] for a in apps]
    page.goto(web_server.base_url + "/claim")  # the last application is offered next time
    assert page.get_by_label("Application").input_value() == app


def test_claim_by_a_claim_token_with_tags(context: Any, web_server: LiveServer, web_world: World) -> None:
    key, device_id = new_private_key(), str(uuid.uuid4())
    r = web_world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(key)})
    assert r.status_code == 201, r.text
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Code").fill(mint_token(key, uuid.UUID(device_id)))
    assert not page.get_by_label("Application").is_visible()  # a token is no LoRaWAN code
    # a bad tag is refused in words, and nothing typed is lost
    too_long = "x" * 101
    page.get_by_label("Tags").fill(f"location=Oslo, {too_long}")
    page.get_by_role("button", name="Claim", exact=True).click()
    assert "tags could not be read" in alert(page)
    assert page.get_by_label("Tags").input_value() == f"location=Oslo, {too_long}"
    assert page.get_by_label("Code").input_value() != ""
    assert owner_of_id(web_world, device_id) is None
    page.get_by_label("Tags").fill("location=Oslo, color=white")
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, device_id)
    assert page.get_by_label("Tags").input_value() == ""  # a new claim starts empty
    claimed = web_world.u1.ok("get", f"/v1/claimed-devices/{device_id}")
    assert sorted(claimed["tags"]) == ["color=white", "location=Oslo"]
    page.get_by_role("status").get_by_role("link", name="My devices").click()
    card = page.locator(".device").filter(has_text=device_id)
    assert "Tags" in card.inner_text()
    assert "location=Oslo" in card.inner_text() and "color=white" in card.inner_text()
    check_page(page, "my-devices-tags")


def test_tags_are_for_claim_tokens_only(context: Any, web_server: LiveServer, web_world: World) -> None:
    device, key = keyed_device(web_world)
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Device name").fill(device.name)
    page.get_by_label("Secret key").fill(key)
    page.get_by_label("Tags").fill("location=Oslo")
    page.get_by_role("button", name="Claim", exact=True).click()
    assert "Tags are kept only for a device claimed by its claim token" in alert(page)
    assert owner(web_world, device) is None
    assert page.get_by_label("Secret key").input_value() == key
    page.get_by_label("Tags").fill("")
    page.get_by_role("button", name="Claim", exact=True).click()
    success(page, device.name)


@pytest.mark.parametrize("case", ["not found", "wrong key", "already claimed", "blocked"])
def test_each_refusal_in_words(case: str, context: Any, web_server: LiveServer, web_world: World) -> None:
    device, key = keyed_device(web_world)
    name, typed = device.name, key
    expected = {
        "not found": "No device named",
        "wrong key": "The secret key is wrong",
        "already claimed": "already claimed",
        "blocked": "blocked by its maker",
    }[case]
    if case == "not found":
        name = uid("nothing")
    elif case == "wrong key":
        typed = key + "-wrong"
    elif case == "already claimed":
        assert web_world.u2.claim(device.name, {"secretKey": key}).status_code == 200
    else:
        blocked = web_world.admin.post(f"/v1/claimed-devices/{device.id}/block")
        assert blocked.status_code == 200, blocked.text
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Device name").fill(name)
    page.get_by_label("Secret key").fill(typed)
    page.get_by_role("button", name="Claim", exact=True).click()
    assert expected in alert(page)
    # nothing typed is lost
    assert page.get_by_label("Device name").input_value() == name
    assert page.get_by_label("Secret key").input_value() == typed
    if case != "already claimed":
        assert owner(web_world, device) is None
    if case == "wrong key":
        check_page(page, "claim-refused")


def test_too_many_attempts_says_the_wait(context: Any, tmp_path: Path) -> None:
    env = {**REAL_LOCKOUTS, "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE": "2", "CLAIMD_CLAIM_LOCKOUT_BASE_MS": "60000"}
    with serving("sqlite", tmp_path / "claimd", env) as server:
        world = make_world(server.base_url, server.admin_email, server.admin_password)
        device, _key = keyed_device(world)
        page = context.new_page()
        sign_in(page, server.base_url, email_of(world.u1))
        for _ in range(4):  # two free failures, the third locks the device out, the fourth hears it
            page.get_by_label("Device name").fill(device.name)
            page.get_by_label("Secret key").fill("wrong")
            with page.expect_navigation():
                page.get_by_role("button", name="Claim", exact=True).click()
        message = alert(page)
        assert re.search(r"Too many attempts\. Try again in \d+ seconds\.", message), message
        # signing in is limited as on the API: five wrong passwords free, then a wait in seconds
        page.get_by_role("button", name="Sign out").click()
        for _ in range(7):
            sign_in(page, server.base_url, email_of(world.u2), "not-the-password")
        message = alert(page)
        assert re.search(r"Too many failed sign-ins\. Try again in \d+ seconds\.", message), message
        for api in world.apis:
            api.close()


# My devices ------------------------------------------------------------------------------------
def test_release_with_confirmation(context: Any, web_server: LiveServer, web_world: World) -> None:
    device, key = keyed_device(web_world)
    assert web_world.u1.claim(device.name, {"secretKey": key}).status_code == 200
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_role("link", name="My devices").click()
    check_page(page, "my-devices")
    page.get_by_role("button", name=f"Release {device.name}").click()
    assert page.get_by_role("heading", name=f"Release {device.name}?").is_visible()
    check_page(page, "release-confirm")
    assert owner(web_world, device) == web_world.c1_id  # nothing happens before the confirmation
    page.keyboard.press("Enter")  # "Release" has the focus: the keyboard alone confirms
    page.wait_for_url(re.compile(r".*/my/devices\?released=.*"))
    assert f"Released {device.name}" in page.get_by_role("status").inner_text()
    assert owner(web_world, device) is None
    assert device.name not in page.locator(".devices").all_inner_texts().__str__()


def test_a_customer_never_sees_another_customers_device(context: Any, web_server: LiveServer, web_world: World) -> None:
    mine, my_key = keyed_device(web_world)
    theirs, their_key = keyed_device(web_world)
    assert web_world.u1.claim(mine.name, {"secretKey": my_key}).status_code == 200
    assert web_world.u2.claim(theirs.name, {"secretKey": their_key}).status_code == 200
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.goto(web_server.base_url + "/my/devices")
    listed = page.get_by_role("main").inner_text()
    assert mine.name in listed and theirs.name not in listed
    r = page.goto(f"{web_server.base_url}/my/devices/{theirs.id}/release")
    assert r is not None and r.status == 404 and theirs.name not in page.content()
    page.request.post(f"{web_server.base_url}/my/devices/{theirs.id}/release", form={"csrf_token": "x"})
    assert owner(web_world, theirs) == web_world.c2_id


# CSRF ------------------------------------------------------------------------------------------
def test_a_post_without_the_csrf_token_is_refused_and_loses_nothing(
    context: Any, web_server: LiveServer, web_world: World
) -> None:
    device, key = keyed_device(web_world)
    page = context.new_page()
    sign_in(page, web_server.base_url, email_of(web_world.u1))
    page.get_by_label("Device name").fill(device.name)
    page.get_by_label("Secret key").fill(key)
    page.evaluate("document.querySelector('#claim-form input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/claim") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Claim", exact=True).click()
    assert answer.value.status == 403
    assert "expired" in alert(page)
    assert page.get_by_label("Device name").input_value() == device.name
    assert page.get_by_label("Secret key").input_value() == key
    assert owner(web_world, device) is None
    page.get_by_role("button", name="Claim", exact=True).click()  # the re-rendered form carries a token
    success(page, device.name)
    # sign-in is a form too: without the token, no session
    r = httpx.post(web_server.base_url + "/login", data={"email": email_of(web_world.u1), "password": USER_PASSWORD})
    assert r.status_code == 403 and "claimd_session" not in r.headers.get("set-cookie", "")
