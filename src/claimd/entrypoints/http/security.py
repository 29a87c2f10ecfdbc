"""Who is calling: a JWT in ``X-Authorization: Bearer`` or ``Authorization: Bearer``.

The dependency is ``async def`` on purpose: a sync one costs a thread-pool hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from claimd.bootstrap import Container
from claimd.domain.errors import AuthenticationFailed
from claimd.domain.model import Door, Principal
from claimd.services.common import Origin

_x_authorization = APIKeyHeader(name="X-Authorization", auto_error=False,
                                description="`Bearer <JWT>` from /api/auth/login (Authorization: Bearer also works)")


async def get_container(request: Request) -> Container:
    return request.app.state.container


async def get_principal(request: Request, x_authorization: Annotated[str | None, Depends(_x_authorization)]) -> Principal:
    header = x_authorization or request.headers.get("authorization")
    if not header:
        raise AuthenticationFailed("Authentication failed")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authentication failed")
    container = request.app.state.container
    return await container.accounts.ensure_active(container.tokens.principal(token.strip()))


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def rest_origin(request: Request) -> Origin:
    return Origin(Door.REST, client_address(request))


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OriginDep = Annotated[Origin, Depends(rest_origin)]
