"""The tenant's claim page settings in a real browser: a tenant admin rewords the claim page and
hides the secret key field, its customers' users see it; bad settings are refused and lose nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from browser_helpers import check_page, offline_context, sign_in
from http_helpers import USER_PASSWORD, World
from servers import LiveServer

pytestmark = pytest.mark.browser


def test_a_tenant_rewords_its_claim_page_and_its_customers_see_it(
    browser: Any, context: Any, web_server: LiveServer, web_world: World
) -> None:
    admin = context.new_page()
    sign_in(admin, web_server.base_url, web_server.admin_email, web_server.admin_password)
    admin.get_by_role("link", name="Settings").click()
    assert admin.get_by_role("heading", name="Settings").is_visible()
    check_page(admin, "console-settings")
    admin.get_by_label("Device name label").fill("Serial number")
    admin.get_by_label("Show the secret key field").uncheck()
    admin.get_by_label("Not found message").fill("Nothing called {device} is known here.")
    admin.get_by_role("button", name="Save settings").click()
    assert "Saved" in admin.get_by_role("status").inner_text()
    assert admin.get_by_label("Device name label").input_value() == "Serial number"

    # a bad setting is refused, names the field, and the form keeps what was typed
    admin.get_by_label("Success message").fill("")
    admin.get_by_label("Blocked message").fill("Locked by the maker.")
    admin.get_by_role("button", name="Save settings").click()
    assert "success" in admin.get_by_role("alert").inner_text()
    assert admin.get_by_label("Blocked message").input_value() == "Locked by the maker."

    phone = offline_context(browser)
    try:
        buyer = phone.new_page()
        email = web_world.u1.ok("get", "/api/auth/user")["email"]
        sign_in(buyer, web_server.base_url, email, USER_PASSWORD)
        assert buyer.get_by_label("Serial number").is_visible()
        assert buyer.get_by_label("Secret key").count() == 0
        buyer.get_by_label("Serial number").fill("ghost-7")
        buyer.get_by_role("button", name="Claim").click()
        assert buyer.get_by_role("alert").inner_text() == "Nothing called ghost-7 is known here."
        check_page(buyer, "claim-reworded")
        buyer.goto(web_server.base_url + "/console/settings")  # not a customer's page
        assert buyer.url == web_server.base_url + "/claim"
    finally:
        phone.close()


def test_settings_without_the_form_token_change_nothing(web_server: LiveServer, web_world: World) -> None:
    with httpx.Client(base_url=web_server.base_url, timeout=30) as http:
        http.get("/login")  # the form's token comes with its cookie
        token = http.cookies["claimd_csrf"]
        data = {"email": web_server.admin_email, "password": web_server.admin_password, "csrf_token": token}
        assert http.post("/login", data=data).status_code == 303
        r = http.post("/console/settings", data={"device_name_label": "Changed by a forged form"})
        assert r.status_code == 403
        assert "Changed by a forged form" in r.text  # the form comes back as typed: nothing lost
        assert "Changed by a forged form" not in http.get("/console/settings").text  # and nothing saved
