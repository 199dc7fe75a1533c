"""Who may change what in an org: admin role (of a key's creator) plus the scope the action needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Principal
from keyplane.auth.scopes import require_scope
from keyplane.errors import Forbidden
from keyplane.models import Organization


def require_admin(principal: Principal | None, scope: str | None = None) -> None:
    """Refuse non-admins; None is the local operator (CLI in-process, bootstrap), always allowed."""
    if principal is None:
        return
    if principal.kind == "inference_key":
        raise Forbidden("Only management keys can perform this operation", code="not_management_key")
    if not principal.is_admin:
        raise Forbidden("This operation requires the admin or owner role", code="admin_required")
    if scope is not None:
        require_scope(principal, scope)


def sees_only_own(principal: Principal | None) -> bool:
    """True when the caller may only see its own (its key creator's) objects and usage."""
    if principal is None:
        return False
    if principal.api_key is not None and not principal.is_org_reach:
        return True
    return not principal.is_admin


async def operator_org_id(session: AsyncSession) -> str | None:
    """The first organization created: its admins run the platform."""
    return (
        await session.execute(
            select(Organization.id).order_by(Organization.created_at, Organization.id).limit(1)
        )
    ).scalar_one_or_none()


async def is_platform_admin(session: AsyncSession, principal: Principal) -> bool:
    if not principal.is_admin or principal.org_id is None:
        return False
    return principal.org_id == await operator_org_id(session)


async def require_platform_admin(session: AsyncSession, principal: Principal, what: str) -> None:
    if not await is_platform_admin(session, principal):
        raise Forbidden(
            f"{what} belong to the platform: only an owner or admin of the operator "
            "organization may change them",
            code="platform_admin_required",
        )
