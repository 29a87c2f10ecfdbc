"""The console's overview in a real browser: devices by state and the claims and failed attempts of
the last 30 days as charts, each with its numbers in words and as a table; tenant admins only."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import check_page, sign_in
from http_helpers import USER_PASSWORD, World
from servers import LiveServer

pytestmark = pytest.mark.browser


def test_the_overview_charts_claims_failures_and_states(context: Any, web_server: LiveServer, web_world: World) -> None:
    w = web_world
    claimed, refused, blocked = w.device(), w.device(), w.device()
    w.window(claimed, {"secretKey": "right-key", "durationMs": 600_000})
    assert w.u1.claim(claimed.name, {"secretKey": "right-key"}).status_code == 200
    w.window(refused, {"secretKey": "other-key", "durationMs": 600_000})
    for _ in range(3):  # three wrong keys: one audit row with a count of 3
        w.u2.claim(refused.name, {"secretKey": "wrong-key"})
    w.admin.ok("post", f"/v1/claimed-devices/{blocked.id}/block")

    page = context.new_page()
    sign_in(page, web_server.base_url, web_server.admin_email, web_server.admin_password)
    assert page.url.endswith("/console/")
    states = page.get_by_role("region", name="Devices by state")
    assert "1 claimed" in " ".join(states.inner_text().split())
    assert "1 blocked" in " ".join(states.inner_text().split())
    claims = page.get_by_role("img", name="Claims per day")
    assert "1 in all" in claims.get_attribute("aria-label")
    failures = page.get_by_role("img", name="Failed claim attempts per day")
    assert "3 in all" in failures.get_attribute("aria-label")
    page.get_by_text("Failed claim attempts per day as a table").click()
    assert page.get_by_role("cell", name="3", exact=True).first.is_visible()
    check_page(page, "console-overview")


def test_a_customer_user_never_sees_the_overview(context: Any, web_server: LiveServer, web_world: World) -> None:
    page = context.new_page()
    email = web_world.u1.ok("get", "/api/auth/user")["email"]
    sign_in(page, web_server.base_url, email, USER_PASSWORD)
    page.goto(web_server.base_url + "/console/")
    assert page.url == web_server.base_url + "/claim"
    assert page.get_by_role("img", name="Claims per day").count() == 0
