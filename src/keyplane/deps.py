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
from keyplane.kernel.permissions import require_admin, require_any_scope, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import (
    AUDIT_READ,
    BILLING_WRITE,
    ORGS_READ,
    ORGS_WRITE,
    PROVIDERS_READ,
    PROVIDERS_WRITE,
    USAGE_READ,
    require_scope,
)


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
    scope: str | tuple[str, ...] | None = None,
    *,
    admin: bool = False,
    operator: bool = False,
    what: str = "Platform-wide objects",
) -> Callable[[Principal], Awaitable[Principal]]:
    """A typed need for a route's signature: a management key, optionally an org admin's or an
    operator admin's, holding `scope` (a tuple: any one of them). The service checks again (the CLI
    calls it as SYSTEM); this makes the rule visible and refuses before any lookup."""
    scopes = (scope,) if isinstance(scope, str) else scope

    async def check(principal: Principal = Depends(require_management_key)) -> Principal:
        if operator:
            require_operator_admin(principal, what)
        elif admin:
            require_admin(principal)
        if scopes:
            require_any_scope(principal, *scopes)
        return principal

    return check


OrgAdminPrincipal = Annotated[Principal, Depends(management_key(admin=True))]
OperatorAdminPrincipal = Annotated[Principal, Depends(management_key(operator=True))]

# The common needs, named once; a route's signature says who may call it.
OrgsReadAdmin = Annotated[Principal, Depends(management_key((ORGS_READ, ORGS_WRITE), admin=True))]
"""An org admin's key allowed to read the org's people (orgs:read or orgs:write): members, invitations."""
OrgsWriteAdmin = Annotated[Principal, Depends(management_key(ORGS_WRITE, admin=True))]
"""An org admin's key with orgs:write: rename the org, workspaces, members, invitations."""
AuditReadAdmin = Annotated[Principal, Depends(management_key(AUDIT_READ, admin=True))]
"""An org admin's key with audit:read: the audit log holds every person's actions."""
BillingWriteAdmin = Annotated[Principal, Depends(management_key(BILLING_WRITE, admin=True))]
"""An org admin's key with billing:write: create, change or delete budgets."""
ProvidersWriteAdmin = Annotated[Principal, Depends(management_key(PROVIDERS_WRITE, admin=True))]
"""An org admin's key with providers:write: add, replace or delete provider credentials."""
ProvidersReader = Annotated[Principal, Depends(management_key(PROVIDERS_READ))]
"""Any management key with providers:read: list provider credentials (details per shows_details)."""
ProvidersWriter = Annotated[Principal, Depends(management_key(PROVIDERS_WRITE))]
"""Any management key with providers:write; the service then asks for the operator where it must."""
UsageReader = Annotated[Principal, Depends(management_key(USAGE_READ))]
"""Any management key with usage:read; members see only their own usage (the service narrows)."""
_OTHER_ORGS = "Organizations other than your own"
TenantsReader = Annotated[
    Principal, Depends(management_key((ORGS_READ, ORGS_WRITE), operator=True, what=_OTHER_ORGS))
]
"""An operator admin's key reading every org (orgs:read or orgs:write)."""
TenantsWriter = Annotated[Principal, Depends(management_key(ORGS_WRITE, operator=True, what=_OTHER_ORGS))]
"""An operator admin's key with orgs:write: create, rename, suspend or re-cap orgs."""
