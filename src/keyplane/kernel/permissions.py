"""Who may change what in an org: admin role (of a key's creator) plus the scope the action needs.

Every check takes a real Principal: the local operator is the explicit `SYSTEM` principal, so a
forgotten argument is a type error, never a bypass.
"""

from __future__ import annotations

from keyplane.errors import Forbidden
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import require_scope


def require_admin(principal: Principal, scope: str | None = None) -> None:
    """Refuse inference keys and non-admins; then the scope the action needs."""
    if principal.kind == "inference_key":
        raise Forbidden("Only management keys can perform this operation", code="not_management_key")
    if not principal.is_admin:
        raise Forbidden("This operation requires the admin or owner role", code="admin_required")
    if scope is not None:
        require_scope(principal, scope)


def require_any_scope(principal: Principal, *scopes: str) -> None:
    """Refuse a key holding none of `scopes` (e.g. a read allowed by orgs:read or orgs:write)."""
    if not any(principal.has_scope(scope) for scope in scopes):
        raise Forbidden(f"This key lacks the '{scopes[0]}' scope", code="missing_scope")


def sees_only_own(principal: Principal) -> bool:
    """True when the caller may only see its own (its key creator's) objects and usage."""
    if principal.is_system:
        return False
    if principal.api_key is not None and not principal.is_org_reach:
        return True
    return not principal.is_admin


def require_operator_admin(principal: Principal, what: str, scope: str | None = None) -> None:
    """Refuse anyone but an owner/admin of the operator org (and the system principal)."""
    if not principal.is_operator_admin:
        raise Forbidden(
            f"{what} belong to the platform: only an owner or admin of the operator "
            "organization may change them",
            code="platform_admin_required",
        )
    if scope is not None:
        require_scope(principal, scope)
