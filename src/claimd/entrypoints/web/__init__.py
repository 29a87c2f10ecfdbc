"""The web pages served by ``claimd serve`` next to the API: server-rendered Jinja2
templates, small vanilla scripts and vendored assets under ``static/``, no build step, no CDN.
docs/web.md describes the pages, the claim link, sessions and CSRF."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from claimd.entrypoints.web import (
    account_pages,
    console_api_keys,
    console_device_actions,
    console_devices,
    console_provisioning,
    console_settings,
)
from claimd.entrypoints.web.pages import router
from claimd.entrypoints.web.rendering import Away, away

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/static/web"


def install(app: FastAPI) -> None:
    """Add the pages and their assets to ``app``."""
    app.add_exception_handler(Away, away)  # a page's guard sends the visitor elsewhere
    # the console's own pages before pages.router, whose /console/{section} answers "no such page"
    for module in (
        console_provisioning,
        account_pages,
        console_devices,
        console_device_actions,
        console_settings,
        console_api_keys,
    ):
        app.include_router(module.router)
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
