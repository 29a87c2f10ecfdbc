"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
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
    app = FastAPI(title="claimd", version=claimd.__version__, description=DESCRIPTION, lifespan=lifespan)
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

    @app.get("/healthz", tags=["health"], summary="Liveness and database reachability")
    async def healthz(c: ContainerDep) -> dict:
        async with c.database.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": claimd.__version__}

    return app
