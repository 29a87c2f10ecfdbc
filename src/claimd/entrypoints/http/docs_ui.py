"""The interactive API docs at ``/docs``, served entirely by claimd.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank on a host without internet
access. Here the page loads the copy of swagger-ui-dist vendored in ``static/swagger-ui`` (refreshed by
scripts/vendor_swagger_ui.py) from ``/docs/assets/``. ReDoc is not vendored, so ``/redoc`` is off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = Path(__file__).with_name("static") / "swagger-ui"
VERSION = (ASSETS / "VERSION").read_text().strip()
#: The files the page loads, and their media types; nothing else in the folder is served.
MEDIA = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PREFIX = "/docs/assets"
#: The URLs carry the Swagger UI version, so the files can be cached for good: an upgrade changes them.
CACHE = "public, max-age=31536000, immutable"


def install(app: FastAPI, *, title: str) -> None:
    """Serve ``/docs``, its OAuth2 redirect page and its assets (the app is made with ``docs_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    def asset(name: str) -> str:
        return f"{PREFIX}/{VERSION}/{name}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=asset("swagger-ui-bundle.js"),
            swagger_css_url=asset("swagger-ui.css"),
            swagger_favicon_url=asset("favicon-32x32.png"),
            oauth2_redirect_url=redirect_url,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(PREFIX + "/{version}/{name}", include_in_schema=False)
    async def swagger_ui_asset(version: str, name: str) -> FileResponse:
        if version != VERSION or name not in MEDIA:
            raise HTTPException(404, "Not Found")
        return FileResponse(ASSETS / name, media_type=MEDIA[name], headers={"Cache-Control": CACHE})
