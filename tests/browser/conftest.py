"""Browser tests: Playwright for Python driving Debian's chromium (``/usr/bin/chromium``, headless)
against a real ``claimd serve``. Never ``playwright install``: no browser is downloaded.

Fixtures:
``web_server`` (module)  a claimd on SQLite (loose lockouts, as every shared test server);
``web_world`` (module)   its tenant admin, customers C1/C2 and their users (:mod:`http_helpers`);
``browser`` (module)     one headless Chromium (see ``playwright_driver`` on why not per session);
``context``              a fresh browser context (own cookies) that refuses every request not to
                         127.0.0.1, so the pages are proven to work offline, with no CDN.
Screenshots go to tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import CHROMIUM, launch, offline_context
from http_helpers import World, make_world
from live_fixtures import serving
from servers import LiveServer


# Module scope, not session: the sync API runs an event loop of its own, and while it lives no
# other test of the same worker process can run asyncio (they would fail with "Runner.run() cannot be
# called from a running event loop").
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    if not CHROMIUM.exists():
        problem = "/usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{problem} (CI=true: required, not skipped)", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    b = launch(playwright_driver)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = offline_context(browser)
    try:
        yield ctx
        assert ctx.outside == [], f"requests left 127.0.0.1: {ctx.outside}"
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving("sqlite", tmp_path_factory.mktemp("claimd-web")) as server:
        yield server


@pytest.fixture(scope="module")
def web_world(web_server: LiveServer) -> Iterator[World]:
    w = make_world(web_server.base_url, web_server.admin_email, web_server.admin_password)
    try:
        yield w
    finally:
        for api in w.apis:
            api.close()
