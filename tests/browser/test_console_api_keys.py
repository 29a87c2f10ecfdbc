"""API keys in the console, in a real browser: a key made on the page is shown once, works on the
API, is listed by its prefix only, and stops working when revoked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from browser_helpers import check_page
from http_helpers import World
from servers import LiveServer

from claimd.services.access import API_KEY_PREFIX

pytestmark = pytest.mark.browser


def whoami(server: LiveServer, key: str) -> int:
    r = httpx.get(server.base_url + "/api/auth/user", headers={"X-Authorization": f"ApiKey {key}"}, timeout=30)
    return r.status_code


def test_a_key_is_shown_once_works_and_stops_when_revoked(
    context: Any, web_server: LiveServer, web_world: World
) -> None:
    page = context.new_page()
    page.goto(web_server.base_url + "/login")
    page.get_by_label("Email").fill(web_server.admin_email)
    page.get_by_label("Password").fill(web_server.admin_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Create API key").click()  # no name: refused in words
    assert "name" in page.get_by_role("alert").inner_text()
    page.get_by_label("Key name").fill("factory line 3")
    page.get_by_role("button", name="Create API key").click()
    key = page.get_by_label("New API key").input_value()
    assert "shown this once" in page.get_by_role("status").inner_text()
    check_page(page, "console-api-keys")
    assert whoami(web_server, key) == 200

    page.goto(web_server.base_url + "/console/api-keys")  # shown once: never again
    assert key not in page.content()
    assert f"{key[: len(API_KEY_PREFIX) + 6]}…" in page.content()  # its prefix names it
    page.get_by_role("button", name="Revoke factory line 3").click()
    assert "revoked" in page.get_by_role("status").inner_text()
    assert whoami(web_server, key) == 401
