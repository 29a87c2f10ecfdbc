"""The claim path with the keyboard alone, on a phone-sized page: sign in, claim by typing, and
every control on the way reached with Tab, in the order it reads."""

from __future__ import annotations

from typing import Any

import pytest
from http_helpers import USER_PASSWORD, World
from servers import LiveServer

pytestmark = pytest.mark.browser


def tab_to(page: Any, element_id: str, most: int = 30) -> list[str]:
    """Press Tab until the element with ``element_id`` has the focus; the ids (or texts) passed on the way."""
    passed = []
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()")
        passed.append(focused)
        if focused == element_id:
            return passed
    raise AssertionError(f"Tab never reached #{element_id}: {passed}")


def test_sign_in_and_claim_with_the_keyboard_alone(context: Any, web_server: LiveServer, web_world: World) -> None:
    device = web_world.device()
    web_world.window(device, {"secretKey": "kb-key-1", "durationMs": 600_000})
    email = web_world.u1.ok("get", "/api/auth/user")["email"]
    page = context.new_page()
    page.goto(web_server.base_url + "/login")
    tab_to(page, "email")
    page.keyboard.type(email)
    tab_to(page, "password")
    page.keyboard.type(USER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(web_server.base_url + "/claim")

    passed = tab_to(page, "device_name")
    assert "Skip to content" in passed  # the first stop: past the navigation in one press
    page.keyboard.type(device.name)
    tab_to(page, "secret_key")
    page.keyboard.type("kb-key-1")
    tab_to(page, "claim")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert device.name in page.get_by_role("status").filter(has_text="You now own").inner_text()
    assert web_world.owner(device) == web_world.c1_id
