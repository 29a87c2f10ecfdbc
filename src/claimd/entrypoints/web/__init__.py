"""The web pages served by ``claimd serve`` next to the API (issue 23): server-rendered Jinja2
templates, small vanilla scripts and vendored assets under ``static/``, no build step, no CDN.
docs/web.md describes the pages, the claim link, sessions and CSRF."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from claimd.entrypoints.web import (
    account_pages,
    console_api_keys,
    console_devices,
    console_provisioning,
    console_settings,
)
from claimd.entrypoints.web.pages import router

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/static/web"


def install(app: FastAPI) -> None:
    """Add the pages and their assets to ``app``."""
    app.include_router(console_provisioning.router)  # before pages' catch-all /console/{section}
    app.include_router(account_pages.router)
    app.include_router(console_devices.router)  # before pages' catch-all /console/{section}
    app.include_router(console_settings.router)
    app.include_router(console_api_keys.router)  # before pages' catch-all /console/{section}
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
