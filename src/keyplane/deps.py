"""FastAPI dependencies: the request's session (committed here, never in services) and principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.client_address import resolve_client_ip
from keyplane.auth.service import authenticate_bearer
from keyplane.context import AppContext
from keyplane.errors import Forbidden, Unauthorized
from keyplane.kernel.permissions import require_admin, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import require_scope


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.keyplane
    return context


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit after the handler succeeds, roll back otherwise."""
    async with get_context(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent. FastAPI's default ("request") would run
# the commit after the client already has its answer, so a read right after a write could miss it.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str | None:
    """The caller's IP for audit rows and login throttling; X-Forwarded-For only via trusted proxies."""
    return resolve_client_ip(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        get_context(request).settings.trusted_proxy_networks,
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing Authentication header", code="missing_auth")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="invalid_auth_header")
    return token


async def get_principal(request: Request, session: Session) -> Principal:
    """Authenticate once per request; later dependencies reuse the cached result."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await authenticate_bearer(
        bearer_token(request),
        session=session,
        secret=get_context(request).secret_key,
        ip_address=client_ip(request),
    )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def require_management_key(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "management_key":
        raise Forbidden("Not a management key", code="not_management_key")
    return principal


async def require_user_session(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "user":
        raise Unauthorized("A user session token is required for this endpoint", code="user_session_required")
    return principal


async def require_api_key(principal: CurrentPrincipal) -> Principal:
    if principal.api_key is None:
        raise Unauthorized("An API key is required for this endpoint", code="api_key_required")
    return principal


ManagementPrincipal = Annotated[Principal, Depends(require_management_key)]
UserPrincipal = Annotated[Principal, Depends(require_user_session)]
KeyPrincipal = Annotated[Principal, Depends(require_api_key)]


def scope_dependency(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency refusing keys without `scope`: Depends(scope_dependency(KEYS_WRITE)) after auth."""

    async def check(principal: Principal = Depends(get_principal)) -> Principal:
        require_scope(principal, scope)
        return principal

    return check


def management_key(
    scope: str | None = None, *, admin: bool = False, operator: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """A typed need for a route's signature: a management key, optionally an org admin's or an
    operator admin's, holding `scope`. The service checks again; this makes the rule visible."""

    async def check(principal: Principal = Depends(require_management_key)) -> Principal:
        if operator:
            require_operator_admin(principal, "Platform-wide objects", scope)
        elif admin:
            require_admin(principal, scope)
        elif scope is not None:
            require_scope(principal, scope)
        return principal

    return check


OrgAdminPrincipal = Annotated[Principal, Depends(management_key(admin=True))]
OperatorAdminPrincipal = Annotated[Principal, Depends(management_key(operator=True))]
