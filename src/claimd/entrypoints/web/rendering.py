"""What every page shares: the templates, the security headers, rendering and redirecting (both keep
the CSRF cookie), where a signed-in user lands, and the guards that let only the right users in — a
guard raises :class:`Away` with the answer for anyone else (sign-in, or their own landing page), which
:func:`claimd.entrypoints.web.install` turns into that answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from claimd.domain.model import Door, Principal
from claimd.entrypoints.web.session import CSRF_FIELD, csrf_token, keep_csrf, signed_in
from claimd.services.common import Origin

EXPIRED_FORM = "This form had expired, so nothing was done. Check the fields and send it again."

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: Pages hold typed values (a secret key re-shown after a failed claim): never cached, never framed,
#: scripts and styles only from this server, no referrer (a claim link carries a key in its query).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", None)
    html = TEMPLATES.get_template(template).render(
        request=request, csrf_field=CSRF_FIELD, csrf_token=csrf_token(request), **context
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    keep_csrf(request, response)
    return response


def redirect(request: Request, url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    keep_csrf(request, response)
    return response


def landing(principal: Principal) -> str:
    return "/console/" if principal.is_tenant_admin else "/claim"


def to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, f"/login?next={quote(here, safe='')}")


def origin(request: Request) -> Origin:
    return Origin(Door.WEB, request.client.host if request.client else None)


class Away(Exception):
    """Raised by a guard: ``response`` (a redirect) is the answer to the request."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.headers.get("location", ""))
        self.response = response


async def away(request: Request, exc: Exception) -> Response:
    """The exception handler of :class:`Away`."""
    assert isinstance(exc, Away)
    return exc.response


async def signed_in_user(request: Request) -> Principal:
    """The signed-in user; anyone else goes to sign in (and comes back here)."""
    principal = await signed_in(request)
    if principal is None:
        raise Away(to_login(request))
    return principal


async def tenant_admin(request: Request) -> Principal:
    """The signed-in tenant admin: the console's pages. Anyone else goes to sign in, or to their own page."""
    principal = await signed_in_user(request)
    if not principal.is_tenant_admin:
        raise Away(redirect(request, landing(principal)))
    return principal


async def customer_user(request: Request) -> Principal:
    """The signed-in customer user: the claim page and My devices."""
    principal = await signed_in_user(request)
    if not principal.is_customer_user:
        raise Away(redirect(request, landing(principal)))
    return principal
