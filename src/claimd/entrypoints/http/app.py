"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    lorawan,
    ownership,
    provisioning,
    telemetry,
)
from claimd.entrypoints.http.edge import InputRule
from claimd.entrypoints.http.security import ContainerDep

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
        built = await build(settings)
        app.state.container = built
        try:
            yield
        finally:
            await built.close()

    settings = container.settings if container is not None else (settings or Settings())
    app = FastAPI(title="claimd", version=claimd.__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs is served from the package: docs_ui.py
    if container is not None:
        app.state.container = container
    errors.install(app)
    app.add_middleware(InputRule)  # one input rule for every route (entrypoints/http/edge.py)
    # Added last, so outermost: an oversized body is refused before anything else looks at it.
    app.add_middleware(limits.BodyLimit, max_body=settings.http_max_body_bytes,
                       max_upload=settings.http_max_upload_bytes, openapi=app.openapi)
    # Claim routes first: a device named "device" must not be taken for a customer id.
    for module in (claims, device_api, auth, customers, devices, telemetry, bulk, ownership, provisioning, access, lorawan):
        app.include_router(module.router)
    if settings.bench:
        app.include_router(bench.router)
    docs_ui.install(app, title=app.title)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict:
        # Liveness only: a database or Redis outage must not make a supervisor restart every node
        # (a restart cures neither); that is what /readyz tells a load balancer.
        return {"status": "ok", "version": claimd.__version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database and, when configured, Redis answer")
    async def readyz(c: ContainerDep) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with c.database.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; its class says which
            checks["database"] = f"failed: {type(exc).__name__}"
        if c.redis is not None:
            try:
                await c.redis.ping()  # type: ignore[attr-defined]
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"failed: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                            status_code=200 if ready else 503)

    return app
