"""Who may change what in an org: admin role (of a key's creator) plus the scope the action needs."""

from __future__ import annotations

from keyplane.auth.principal import Principal
from keyplane.auth.scopes import require_scope
from keyplane.errors import Forbidden


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
