"""Login, refresh, the current user, password change and reset, user activation (ThingsBoard's auth endpoints)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from claimd.entrypoints.http.responses import User, thingsboard
from claimd.entrypoints.http.schemas import (
    ActivateRequest,
    ChangePasswordRequest,
    JwtPair,
    LoginRequest,
    RefreshRequest,
    ResetPasswordRequest,
    user_json,
)
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep, client_address

router = APIRouter(tags=["auth"])


@router.post(
    "/api/auth/login", response_model=JwtPair, responses=thingsboard({}), summary="Log in with e-mail and password"
)
async def login(body: LoginRequest, request: Request, c: ContainerDep) -> JwtPair:
    token, refresh = await c.accounts.login(body.username, body.password, client_address(request))
    return JwtPair(token=token, refreshToken=refresh)


@router.post(
    "/api/auth/token",
    response_model=JwtPair,
    responses=thingsboard({}),
    summary="Exchange a refresh token for a new pair",
)
async def refresh(body: RefreshRequest, c: ContainerDep) -> JwtPair:
    token, refresh_token = await c.accounts.refresh(body.refresh_token)
    return JwtPair(token=token, refreshToken=refresh_token)


@router.get("/api/auth/user", responses=thingsboard({200: {"model": User}}), summary="The logged-in user")
async def current_user(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return user_json(await c.accounts.current_user(principal))


@router.post(
    "/api/auth/changePassword",
    response_model=JwtPair,
    responses=thingsboard({}),
    summary="Change the logged-in user's password; its earlier sessions end",
)
async def change_password(
    body: ChangePasswordRequest, request: Request, principal: PrincipalDep, c: ContainerDep
) -> JwtPair:
    token, refresh_token = await c.accounts.change_password(
        principal, body.current_password, body.new_password, client_address(request)
    )
    return JwtPair(token=token, refreshToken=refresh_token)


@router.post(
    "/api/noauth/activate", response_model=JwtPair, responses=thingsboard({}), summary="Set the password of a new user"
)
async def activate(body: ActivateRequest, c: ContainerDep, sendActivationMail: bool = False) -> JwtPair:
    token, refresh_token = await c.accounts.activate(body.activate_token, body.password)
    return JwtPair(token=token, refreshToken=refresh_token)


@router.post(
    "/api/noauth/resetPassword",
    response_model=JwtPair,
    responses=thingsboard({}),
    summary="Set a new password with a one-time reset token; the user's earlier sessions end",
)
async def reset_password(body: ResetPasswordRequest, c: ContainerDep) -> JwtPair:
    token, refresh_token = await c.accounts.reset_password(body.reset_token, body.password)
    return JwtPair(token=token, refreshToken=refresh_token)
