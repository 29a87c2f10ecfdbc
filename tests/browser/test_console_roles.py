"""A customer user's role on the console's customers page, in a real browser: shown per user, changed
by a tenant admin (the same call and rules as ``PUT /v1/users/{id}/role``), and felt at once on the
claim page (a VIEWER may not claim, in words); tenant roles offered too; refusals; CSRF; accessibility
and screenshots."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from browser_helpers import check_page, offline_context, sign_in
from http_helpers import NULL_UUID, USER_PASSWORD, Api, Device, World
from servers import LiveServer

pytestmark = pytest.mark.browser

WINDOW_MS = 600_000


def customers_page(context: Any, server: LiveServer) -> Any:
    page = context.new_page()
    sign_in(page, server.base_url, server.admin_email, server.admin_password)
    page.get_by_role("link", name="Customers", exact=True).click()
    return page


def user_of(world: World) -> tuple[Api, str, str]:
    """A new active user of customer C1: its API session, e-mail and id."""
    api = world.new_customer_user(world.c1_id)
    world.apis.append(api)
    me = api.ok("get", "/api/auth/user")
    return api, me["email"], me["id"]["id"]


def set_role(page: Any, email: str, role: str) -> str:
    page.get_by_label(f"Role for {email}", exact=True).select_option(role)
    page.get_by_role("button", name=f"Set role for {email}", exact=True).click()
    return str(page.get_by_role("status").inner_text())


def shown_role(page: Any, email: str) -> str:
    return str(page.get_by_label(f"Role for {email}", exact=True).input_value())


def csrf(context: Any) -> str:
    return str({c["name"]: c["value"] for c in context.cookies()}["claimd_csrf"])


def keyed_device(world: World) -> tuple[Device, str]:
    device = world.device()
    key = secrets.token_urlsafe(8)
    world.window(device, {"secretKey": key, "durationMs": WINDOW_MS})
    return device, key


def claim(page: Any, name: str, key: str) -> None:
    page.get_by_label("Device name").fill(name)
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Claim", exact=True).click()


def test_a_viewer_may_not_claim_and_an_owner_may(
    context: Any, browser: Any, web_server: LiveServer, web_world: World
) -> None:
    _api, email, _user_id = user_of(web_world)
    device, key = keyed_device(web_world)
    name = device.name
    page = customers_page(context, web_server)
    assert shown_role(page, email) == "OWNER"  # no role set: an Owner, as ThingsBoard's plain customer user
    check_page(page, "console-customers-roles")
    assert set_role(page, email, "VIEWER") == f"{email} now has the role VIEWER."
    assert shown_role(page, email) == "VIEWER"
    assert "role VIEWER" in page.locator(".users li").filter(has_text=email).inner_text()
    check_page(page, "console-customers-role-set")

    other = offline_context(browser)
    try:
        user = other.new_page()
        sign_in(user, web_server.base_url, email)
        claim(user, name, key)
        message = user.get_by_role("alert").inner_text()
        assert "Your role (VIEWER) may not claim devices" in message, message
        assert user.get_by_label("Secret key").input_value() == key  # nothing typed is lost
        check_page(user, "claim-refused-role")
        assert web_world.owner(device) == NULL_UUID
        # the admin gives the Owner role back: the same signed-in user claims at once
        assert set_role(page, email, "OWNER") == f"{email} now has the role OWNER."
        user.get_by_role("button", name="Claim", exact=True).click()
        assert name in user.get_by_role("status").filter(has_text="You now own").inner_text()
        assert web_world.owner(device) == web_world.c1_id
        assert other.outside == []
    finally:
        other.close()


def test_a_tenant_role_is_offered_and_a_wrong_role_is_refused(
    context: Any, web_server: LiveServer, web_world: World
) -> None:
    _api, email, user_id = user_of(web_world)
    role = "Installer" + secrets.token_hex(4)
    made = web_world.admin.post(
        "/v1/roles", json={"name": role, "permissions": ["DEVICE:READ", "DEVICE:CLAIM"], "description": "Fitters"}
    )
    assert made.status_code == 201, made.text
    page = customers_page(context, web_server)
    options = page.get_by_label(f"Role for {email}", exact=True).locator("option").all_inner_texts()
    assert options[:4] == ["OWNER", "ADMIN", "EDITOR", "VIEWER"]  # built-in first, then the tenant's
    assert f"{role} (custom)" in options
    assert set_role(page, email, role) == f"{email} now has the role {role}."
    assert shown_role(page, email) == role
    # the REST API sees the same: the user acts through the tenant role (it may claim, not release)
    device, key = keyed_device(web_world)
    api = Api.login(web_server.base_url, email, USER_PASSWORD)
    try:
        assert api.claim(device.name, {"secretKey": key}).status_code == 200
        assert api.delete(f"/api/customer/device/{device.name}/claim").status_code == 403
    finally:
        api.close()

    # refusals, in words, in role="alert"; the role stays
    post = page.request.post
    r = post(
        f"{web_server.base_url}/console/customers/users/{user_id}/role",
        form={"csrf_token": csrf(context), "role": "nobody"},
    )
    assert r.status == 400 and "No role" in r.text()
    admin_id = web_world.admin_user["id"]["id"]
    r = post(
        f"{web_server.base_url}/console/customers/users/{admin_id}/role",
        form={"csrf_token": csrf(context), "role": "VIEWER"},
    )
    assert r.status == 400 and "Roles are for customer users" in r.text()
    page.reload()
    assert shown_role(page, email) == role
    # the page shows a refusal in role="alert"
    page.get_by_label(f"Role for {email}", exact=True).evaluate(
        "(select, value) => { select.options[0].value = value; select.selectedIndex = 0; }", "nobody"
    )
    page.get_by_role("button", name=f"Set role for {email}", exact=True).click()
    assert "The role was not changed: No role 'nobody'" in page.get_by_role("alert").inner_text()
    check_page(page, "console-customers-role-refused")


def test_setting_a_role_needs_the_csrf_token_and_a_tenant_admin(
    context: Any, browser: Any, web_server: LiveServer, web_world: World
) -> None:
    _api, email, user_id = user_of(web_world)
    page = customers_page(context, web_server)
    url = f"{web_server.base_url}/console/customers/users/{user_id}/role"
    for form in ({"role": "VIEWER"}, {"csrf_token": "wrong", "role": "VIEWER"}):
        r = page.request.post(url, form=form)
        assert r.status == 403 and "expired" in r.text()
    page.reload()
    assert shown_role(page, email) == "OWNER"
    # a form whose token was removed in the page: refused, in words
    page.evaluate("document.querySelectorAll('form.role-form input[name=csrf_token]').forEach(i => i.remove())")
    assert "expired" in set_role_alert(page, email, "VIEWER")
    assert shown_role(page, email) == "OWNER"

    # a customer user (an Owner: User × Write) may not use the console's page
    other = offline_context(browser)
    try:
        user = other.new_page()
        sign_in(user, web_server.base_url, email)
        r = user.request.post(url, form={"csrf_token": csrf(other), "role": "VIEWER"})
        assert r.url == web_server.base_url + "/claim"
    finally:
        other.close()
    page.reload()
    assert shown_role(page, email) == "OWNER"


def set_role_alert(page: Any, email: str, role: str) -> str:
    page.get_by_label(f"Role for {email}", exact=True).select_option(role)
    page.get_by_role("button", name=f"Set role for {email}", exact=True).click()
    return str(page.get_by_role("alert").inner_text())
