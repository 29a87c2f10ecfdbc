"""Sessions and CSRF for the web pages.

- The session is the access JWT that ``container.accounts.login`` hands out, kept in an HttpOnly,
  SameSite=Lax cookie (Secure when the request came over https). Every signed-in page reads it the
  way the API reads ``X-Authorization``: ``container.tokens.principal`` and then
  ``container.accounts.ensure_active`` (a deleted user or a changed role ends the session at once).
- CSRF: a double-submit token. A random value in a SameSite=Strict cookie, repeated in a hidden field
  of every form; a POST whose field does not equal the cookie (compared in constant time) is refused
  with 403. No server state: a cross-site page can neither read the cookie nor make the browser send it.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import Request, Response

from claimd.bootstrap import Container
from claimd.domain.errors import ClaimdError
from claimd.domain.model import Principal

SESSION_COOKIE = "claimd_session"
CSRF_COOKIE = "claimd_csrf"
CSRF_FIELD = "csrf_token"
#: Form bodies are small (a few fields); the app's body limit applies as well.
MAX_FORM_BYTES = 16 * 1024


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container  # Starlette's state is untyped; app.py sets it
    return container


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


async def signed_in(request: Request) -> Principal | None:
    """The principal of the session cookie, checked as the API checks a bearer token; ``None`` when
    there is no session or it no longer holds (expired, user deleted, role changed)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    c = container_of(request)
    try:
        return await c.accounts.ensure_active(c.tokens.principal(token))
    except ClaimdError:
        return None


def start_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request), path="/")


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))


def csrf_token(request: Request) -> str:
    """The request's CSRF token: the cookie's, or a new one (:func:`keep_csrf` sets it)."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= 100:
        return current
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def keep_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this request made a new token."""
    token = getattr(request.state, "new_csrf", None)
    if token is not None:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/")


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each name). The pages'
    forms are all url-encoded: an uploaded photo is decoded in the page, never sent."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}


def safe_next(target: str | None) -> str | None:
    """A same-site path to go to after sign-in, or ``None`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None  # browsers drop tabs and newlines and read "\\" as "/": "/\t/evil" would be "//evil"
    return target
