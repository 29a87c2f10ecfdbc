"""The web pages served by ``claimd serve`` next to the API (issue 23): server-rendered Jinja2
templates, small vanilla scripts and vendored assets under ``static/``, no build step, no CDN.
docs/web.md describes the pages, the claim link, sessions and CSRF."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from claimd.entrypoints.web.pages import router

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/static/web"


def install(app: FastAPI) -> None:
    """Add the pages and their assets to ``app``."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
