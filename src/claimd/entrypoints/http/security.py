"""Who is calling: a JWT (``X-Authorization: Bearer`` or ``Authorization: Bearer``) or an API key
(``Authorization: Bearer claimd_…`` or ``X-Authorization: ApiKey claimd_…``).

The dependency is ``async def`` on purpose: a sync one costs a thread-pool hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from claimd.bootstrap import Container
from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Door, Principal
from claimd.services.access import looks_like_api_key
from claimd.services.common import Origin

_x_authorization = APIKeyHeader(
    name="X-Authorization",
    auto_error=False,
    description="`Bearer <JWT>` from /api/auth/login, or `ApiKey <key>` (Authorization: Bearer works for both)",
)


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container  # Starlette's state is untyped; app.py sets it
    return container


async def get_principal(
    request: Request, x_authorization: Annotated[str | None, Depends(_x_authorization)]
) -> Principal:
    header = x_authorization or request.headers.get("authorization")
    if not header:
        raise AuthenticationFailed("Authentication failed")
    scheme, _, token = header.strip().partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme not in ("bearer", "apikey") or not token:
        raise AuthenticationFailed("Authentication failed")
    container: Container = request.app.state.container
    if scheme == "apikey" or looks_like_api_key(token):
        return await container.access.principal_for_key(token, client_address(request))
    return await container.accounts.ensure_active(container.tokens.principal(token))


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def rest_origin(request: Request) -> Origin:
    return Origin(Door.REST, client_address(request))


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OriginDep = Annotated[Origin, Depends(rest_origin)]
