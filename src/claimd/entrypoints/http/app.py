"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

import claimd
from claimd.bootstrap import Container, build
from claimd.config import Settings
from claimd.entrypoints.http import (
    access,
    auth,
    bench,
    bulk,
    claims,
    customers,
    device_api,
    devices,
    docs_ui,
    errors,
    limits,
    lorawan_devices,
    ownership,
    provisioning,
    qr_codes,
    telemetry,
    tenants,
    tts_claims,
)
from claimd.entrypoints.http.edge import InputRule
from claimd.entrypoints.http.metrics import RequestTimer
from claimd.entrypoints.http.metrics import router as metrics_router
from claimd.entrypoints.http.requests import RequestLog
from claimd.entrypoints.http.security import ContainerDep
from claimd.entrypoints.web import install as install_web

#: How long /readyz waits for the database and for Redis (side by side) before it answers 503.
READY_TIMEOUT_S = 2.0


async def _probe(check: Awaitable[object]) -> str:
    """ "ok", or "failed: <error class>" when ``check`` fails or hangs past READY_TIMEOUT_S: a database
    or Redis that hangs (a dead connection, a lost network) is an answer of not ready within seconds,
    not a probe that waits with it."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await check
        return "ok"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"


DESCRIPTION = """\
claimd hands IoT devices from the company that makes them to the people who buy them.

The REST API is wire-compatible with ThingsBoard's claiming (log in at `/api/auth/login`, then send
`X-Authorization: Bearer <token>`); devices open claim windows at `/api/v1/{accessToken}/claim`.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the app. With ``container`` the caller owns it; otherwise it is built from ``settings``
    when the app starts and closed when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            yield
            return
        built = await build(app_settings)
        app.state.container = built
        try:
            yield
        finally:
            await built.close()

    app_settings = container.settings if container is not None else (settings or Settings())
    app = FastAPI(
        title="claimd",
        version=claimd.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )  # /docs is served from the package: docs_ui.py
    if container is not None:
        app.state.container = container
    errors.install(app)
    app.add_middleware(InputRule)  # one input rule for every route (entrypoints/http/edge.py)
    # Added last, so outermost: an oversized body is refused before anything else looks at it.
    app.add_middleware(
        limits.BodyLimit,
        max_body=app_settings.http_max_body_bytes,
        max_upload=app_settings.http_max_upload_bytes,
        openapi=app.openapi,
    )
    app.add_middleware(RequestTimer)  # times every answer, a 413 included, by route template (metrics.py)
    # Request ids and the access log wrap the whole stack, the server-error handler included, so that
    # every answer (a 413, a 500) carries its id and has its access line (entrypoints/http/requests.py).
    inner_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestLog(inner_stack())  # type: ignore[method-assign]
    # Claim routes first: a device named "device" must not be taken for a customer id.
    # Tenants after devices: /api/tenant/{tenantId} must not take /api/tenant/devices for a tenant id.
    for module in (
        claims,
        device_api,
        auth,
        customers,
        devices,
        telemetry,
        bulk,
        ownership,
        provisioning,
        access,
        tts_claims,  # LoRaWAN: The Things Stack's claiming API and applications,
        qr_codes,  # its QR code API,
        lorawan_devices,  # and claimd's own tenant API for LoRaWAN identities
        tenants,
    ):
        app.include_router(module.router)
    if app_settings.bench:
        app.include_router(bench.router)
    docs_ui.install(app, title=app.title)
    app.include_router(metrics_router)  # GET /metrics, not in the OpenAPI schema
    install_web(app)  # the pages at /, /login, /claim, /my/devices, /console/ (entrypoints/web/, docs/web.md)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, Any]:
        # Liveness only: a database or Redis outage must not make a supervisor restart every node
        # (a restart cures neither); that is what /readyz tells a load balancer.
        return {"status": "ok", "version": claimd.__version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database and, when configured, Redis answer")
    async def readyz(c: ContainerDep) -> JSONResponse:
        async def database() -> None:
            async with c.database.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))

        probes = {"database": database()}
        if c.redis is not None:
            probes["redis"] = c.redis.ping()  # type: ignore[attr-defined]
        results = await asyncio.gather(*map(_probe, probes.values()))
        checks = dict(zip(probes, results, strict=True))
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
        )

    return app
