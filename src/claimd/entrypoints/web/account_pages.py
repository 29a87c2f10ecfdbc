"""Account pages: a new user's activation link (``/activate``), the password-reset link a tenant admin
hands out (``/reset``), and the console's customers and users (``/console/customers``).

The same service calls as the REST API: ``accounts.activate`` / ``accounts.reset_password`` (ThingsBoard's
``POST /api/noauth/activate`` and ``/api/noauth/resetPassword``), ``directory.list_customers`` /
``save_customer`` / ``list_customer_users`` / ``create_user``, and ``accounts.new_activation_token`` /
``new_reset_token`` (``GET /api/user/{id}/activationLink`` and ``passwordResetLink``), whose links
point at these pages instead of the API. A user's role: ``access.list_roles`` / ``user_roles`` /
``set_user_role`` (``GET /v1/roles``, ``PUT /v1/users/{id}/role``).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claimd.domain.errors import ClaimdError
from claimd.domain.model import Authority, Principal
from claimd.entrypoints.web.console_provisioning import base_url
from claimd.entrypoints.web.rendering import EXPIRED_FORM, landing, redirect, render, tenant_admin
from claimd.entrypoints.web.session import container_of, csrf_ok, read_form, start_session

router = APIRouter(include_in_schema=False)

CUSTOMERS_PAGE = 100
USERS_PER_CUSTOMER = 100

#: What each page is for: its title, its token's query name, what is said when the token does not hold.
LINKS = {
    "activate": (
        "Set your password",
        "activateToken",
        "This activation link is not valid: it was used already, or a newer link replaced it. "
        "Ask your administrator for a new one.",
    ),
    "reset": (
        "Choose a new password",
        "resetToken",
        "This password-reset link is not valid: it was used already, it expired (after 24 hours), or a "
        "newer link replaced it. Ask your administrator for a new one.",
    ),
}


# activation and reset links --------------------------------------------------------------------
def _password_page(request: Request, kind: str, token: str, status: int = 200, error: str | None = None) -> Response:
    title, _param, _invalid = LINKS[kind]
    return render(request, "account_password.html", status, kind=kind, title=title, token=token, error=error)


async def _password_form(request: Request, kind: str) -> Response:
    form = await read_form(request)
    token = form.get("token", "")
    if not csrf_ok(request, form):
        return _password_page(request, kind, token, 403, EXPIRED_FORM)
    password, again = form.get("password", ""), form.get("password_again", "")
    if password != again:
        return _password_page(request, kind, token, 400, "The two passwords differ. Type the same password twice.")
    c = container_of(request)
    try:
        if kind == "activate":
            access, _refresh = await c.accounts.activate(token, password)
        else:
            access, _refresh = await c.accounts.reset_password(token, password)
    except ClaimdError as exc:
        message = exc.message if "Password" in exc.message else LINKS[kind][2]
        return _password_page(request, kind, token, 400, message)
    # The new password signs the user in, as the API answers these links with a JWT pair.
    response = redirect(request, landing(c.tokens.principal(access)))
    start_session(request, response, access)
    return response


@router.get("/activate", response_class=HTMLResponse)
async def activate_page(request: Request, activateToken: str = "") -> Response:  # noqa: N803 - ThingsBoard's name
    return _password_page(request, "activate", activateToken)


@router.post("/activate", response_class=HTMLResponse)
async def activate(request: Request) -> Response:
    return await _password_form(request, "activate")


@router.get("/reset", response_class=HTMLResponse)
async def reset_page(request: Request, resetToken: str = "") -> Response:  # noqa: N803 - ThingsBoard's name
    return _password_page(request, "reset", resetToken)


@router.post("/reset", response_class=HTMLResponse)
async def reset(request: Request) -> Response:
    return await _password_form(request, "reset")


# customers and their users ---------------------------------------------------------------------
async def _customers_page(request: Request, principal: Principal, status: int = 200, **context: Any) -> HTMLResponse:
    c = container_of(request)
    listed, total = await c.directory.customers_with_users(principal, CUSTOMERS_PAGE, USERS_PER_CUSTOMER)
    # The listed users' roles in one query (not one per user), and the roles a user may be given.
    user_roles = await c.access.user_roles(
        principal, [user.id for _customer, users, _count in listed for user in users]
    )
    roles = await c.access.list_roles(principal)
    for name in ("message", "error", "customer_error", "user_error", "link", "link_kind", "link_email"):
        context.setdefault(name, None)
    context.setdefault("title_value", "")
    context.setdefault("email_value", "")
    context.setdefault("chosen", "")
    return render(
        request,
        "console_customers.html",
        status,
        principal=principal,
        section="customers",
        customers=listed,
        total=total,
        roles=roles,
        user_roles=user_roles,
        **context,
    )


@router.get("/console/customers", response_class=HTMLResponse)
async def customers_page(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    created = request.query_params.get("created")
    message = f"Created the customer {created}." if created else None
    return await _customers_page(request, principal, message=message)


@router.post("/console/customers", response_class=HTMLResponse)
async def create_customer(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    form = await read_form(request)
    title = form.get("title", "").strip()
    if not csrf_ok(request, form):
        return await _customers_page(request, principal, 403, customer_error=EXPIRED_FORM, title_value=title)
    try:
        customer = await container_of(request).directory.save_customer(principal, title)
    except ClaimdError as exc:
        return await _customers_page(request, principal, 400, customer_error=exc.message, title_value=title)
    return redirect(request, f"/console/customers?created={quote(customer.title, safe='')}")


def _link(request: Request, kind: str, token: str) -> str:
    param = LINKS[kind][1]
    return f"{base_url(request)}/{kind}?{param}={quote(token, safe='')}"


@router.post("/console/customers/users", response_class=HTMLResponse)
async def create_user(request: Request) -> Response:
    principal = await tenant_admin(request)
    assert principal is not None
    form = await read_form(request)
    email, chosen = form.get("email", "").strip(), form.get("customer", "")
    again = {"email_value": email, "chosen": chosen}
    if not csrf_ok(request, form):
        return await _customers_page(request, principal, 403, user_error=EXPIRED_FORM, **again)
    c = container_of(request)
    try:
        customer_id = uuid.UUID(chosen)
    except ValueError:
        return await _customers_page(request, principal, 400, user_error="Choose the user's customer.", **again)
    try:
        user = await c.directory.create_user(principal, email, Authority.CUSTOMER_USER, customer_id)
        token = await c.accounts.new_activation_token(principal, user.id)
    except ClaimdError as exc:
        return await _customers_page(request, principal, 400, user_error=exc.message, **again)
    return await _customers_page(
        request,
        principal,
        201,
        message=f"Created the user {user.email}.",
        link=_link(request, "activate", token),
        link_kind="activate",
        link_email=user.email,
    )


@router.post("/console/customers/users/{user_id}/link", response_class=HTMLResponse)
async def new_link(request: Request, user_id: uuid.UUID) -> Response:
    """A new activation link (a user not yet active) or password-reset link (an active user); each
    replaces the user's previous one."""
    principal = await tenant_admin(request)
    assert principal is not None
    form = await read_form(request)
    if not csrf_ok(request, form):
        return await _customers_page(request, principal, 403, error=EXPIRED_FORM)
    c = container_of(request)
    try:
        user = await c.directory.get_user(principal, user_id)
        if user.enabled:
            kind, token = "reset", await c.accounts.new_reset_token(principal, user.id)
        else:
            kind, token = "activate", await c.accounts.new_activation_token(principal, user.id)
    except ClaimdError as exc:
        return await _customers_page(request, principal, 400, error=exc.message)
    return await _customers_page(
        request, principal, link=_link(request, kind, token), link_kind=kind, link_email=user.email
    )


@router.post("/console/customers/users/{user_id}/role", response_class=HTMLResponse)
async def set_role(request: Request, user_id: uuid.UUID) -> Response:
    """Give a customer user a role: the same call as ``PUT /v1/users/{id}/role``, the same rules."""
    principal = await tenant_admin(request)
    assert principal is not None
    form = await read_form(request)
    if not csrf_ok(request, form):
        return await _customers_page(request, principal, 403, error=EXPIRED_FORM)
    c = container_of(request)
    try:
        role = await c.access.set_user_role(principal, user_id, form.get("role", ""))
        user = await c.directory.get_user(principal, user_id)
    except ClaimdError as exc:
        return await _customers_page(request, principal, 400, error=f"The role was not changed: {exc.message}")
    return await _customers_page(request, principal, message=f"{user.email} now has the role {role.name}.")
