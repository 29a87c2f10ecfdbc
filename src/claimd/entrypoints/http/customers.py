"""Customers and their users (ThingsBoard's customer and user endpoints)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from claimd.domain.errors import InvalidArgument
from claimd.entrypoints.http.responses import (
    EMPTY,
    Customer,
    CustomerPageData,
    ThingsBoardError,
    User,
    UserPageData,
    thingsboard,
)
from claimd.entrypoints.http.schemas import CustomerIn, UserIn, customer_json, page_json, user_json
from claimd.entrypoints.http.security import ContainerDep, PrincipalDep

router = APIRouter(tags=["customers and users"])


@router.post("/api/customer", responses=thingsboard({200: {"model": Customer}}), summary="Create or update a customer")
async def save_customer(body: CustomerIn, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    customer = await c.directory.save_customer(
        principal, body.title, body.email, body.additional_info, body.id.id if body.id else None
    )
    return customer_json(customer)


@router.get("/api/customer/{customerId}", responses=thingsboard({200: {"model": Customer}}), summary="Get a customer")
async def get_customer(customerId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return customer_json(await c.directory.get_customer(principal, customerId))


@router.get(
    "/api/customers", responses=thingsboard({200: {"model": CustomerPageData}}), summary="List the tenant's customers"
)
async def list_customers(
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    textSearch: str | None = None,
    sortProperty: str | None = None,
    sortOrder: str | None = None,
) -> dict[str, Any]:
    result = await c.directory.list_customers(principal, page, pageSize, textSearch, sortProperty, sortOrder)
    return page_json(result, page, customer_json)


@router.delete(
    "/api/customer/{customerId}",
    response_class=Response,
    responses=thingsboard({200: EMPTY}),
    summary="Delete a customer; its devices become unassigned",
)
async def delete_customer(customerId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.directory.delete_customer(principal, customerId)
    return Response(status_code=200)


NO_MAIL = (
    "claimd sends no e-mail: create the user with sendActivationMail=false and give the user the link "
    "from GET /api/user/{id}/activationLink"
)


@router.post(
    "/api/user",
    responses=thingsboard({200: {"model": User}}),
    summary="Create a tenant admin or customer user (activate it with its activation link)",
    description="`sendActivationMail=true` is refused (400): claimd sends no e-mail. Leave it out or "
    "false, then hand the user the link from `GET /api/user/{userId}/activationLink`.",
)
async def save_user(
    body: UserIn, principal: PrincipalDep, c: ContainerDep, sendActivationMail: bool = False
) -> dict[str, Any]:
    if sendActivationMail:  # refused before anything is stored: a user silently left without a link helps no one
        raise InvalidArgument(NO_MAIL)
    user = await c.directory.create_user(
        principal,
        body.email,
        body.authority,
        body.customer_id.id if body.customer_id else None,
        body.first_name,
        body.last_name,
        body.additional_info,
        body.tenant_id.id if body.tenant_id else None,
    )
    return user_json(user)


@router.post(
    "/api/user/sendActivationMail",
    status_code=400,
    responses=thingsboard({400: {"model": ThingsBoardError}}),
    summary="ThingsBoard's resend of the activation mail: always refused (claimd sends no e-mail)",
)
async def send_activation_mail(principal: PrincipalDep, email: str | None = None) -> dict[str, Any]:
    raise InvalidArgument(NO_MAIL)


@router.get("/api/user/{userId}", responses=thingsboard({200: {"model": User}}), summary="Get a user")
async def get_user(userId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return user_json(await c.directory.get_user(principal, userId))


@router.delete(
    "/api/user/{userId}", response_class=Response, responses=thingsboard({200: EMPTY}), summary="Delete a user"
)
async def delete_user(userId: uuid.UUID, principal: PrincipalDep, c: ContainerDep) -> Response:
    await c.directory.delete_user(principal, userId)
    return Response(status_code=200)


@router.get(
    "/api/customer/{customerId}/users",
    responses=thingsboard({200: {"model": UserPageData}}),
    summary="List a customer's users",
)
async def list_customer_users(
    customerId: uuid.UUID,
    principal: PrincipalDep,
    c: ContainerDep,
    pageSize: int = 10,
    page: int = 0,
    textSearch: str | None = None,
) -> dict[str, Any]:
    result = await c.directory.list_customer_users(principal, customerId, page, pageSize, textSearch)
    return page_json(result, page, user_json)


@router.get(
    "/api/user/{userId}/activationLink",
    response_class=PlainTextResponse,
    responses=thingsboard({}, text_route=True),
    summary="A new one-time activation link (each call replaces the previous one)",
)
async def activation_link(userId: uuid.UUID, request: Request, principal: PrincipalDep, c: ContainerDep) -> str:
    token = await c.accounts.new_activation_token(principal, userId)
    base = (c.settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/api/noauth/activate?activateToken={token}"


@router.get(
    "/api/user/{userId}/passwordResetLink",
    response_class=PlainTextResponse,
    responses=thingsboard({}, text_route=True),
    summary="A new one-time password-reset link, valid 24 hours (each call replaces the previous one)",
    description="Hand the token to the user, who sets a password with `POST /api/noauth/resetPassword`.",
)
async def password_reset_link(userId: uuid.UUID, request: Request, principal: PrincipalDep, c: ContainerDep) -> str:
    token = await c.accounts.new_reset_token(principal, userId)
    base = (c.settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/api/noauth/resetPassword?resetToken={token}"
