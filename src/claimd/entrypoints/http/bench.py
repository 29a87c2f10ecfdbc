"""The ceiling ``bench/`` measures claims against: a trivial authenticated JSON endpoint, served
only when ``CLAIMD_BENCH=true``, through the same app, authentication and server settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from claimd.entrypoints.http.security import PrincipalDep

router = APIRouter(tags=["bench"])


@router.get("/v1/bench/ping", summary="Who you are, and nothing else (bench mode only)")
async def ping(principal: PrincipalDep) -> dict[str, Any]:
    return {"userId": str(principal.user_id)}
