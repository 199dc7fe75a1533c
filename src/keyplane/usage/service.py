"""Who may read which usage: org-scoped always; a user-reach key or a non-admin only its creator's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import Forbidden
from keyplane.kernel.permissions import sees_only_own
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import USAGE_READ, require_scope
from keyplane.keys.lookup import key_by_hash
from keyplane.usage.queries import UsageFilter
from keyplane.workspaces.service import workspace_in_org


async def key_id_for_hash(*, session: AsyncSession, principal: Principal, key_hash: str) -> str:
    """The id of a key the caller may see (keys.lookup decides), else 404."""
    return (await key_by_hash(session=session, principal=principal, key_hash=key_hash)).id


async def usage_filter_for(
    *,
    session: AsyncSession,
    principal: Principal,
    start: datetime | None = None,
    end: datetime | None = None,
    key_hash: str | None = None,
    key_id: str | None = None,
    user_id: str | None = None,
    workspace_id: str | None = None,
    model: str | None = None,
    tag: str | None = None,
) -> UsageFilter:
    """Turn request filters into a UsageFilter the caller is allowed to read (usage:read scope).

    A key named by id needs no lookup: the filter is already the org's (and the caller's own).
    """
    require_scope(principal, USAGE_READ)
    org_id = principal.require_org()
    if sees_only_own(principal):
        if user_id is not None and user_id != principal.user_id:
            raise Forbidden("This key may only read its own usage", code="usage_restricted")
        user_id = principal.user_id or ""
    if key_hash is not None:
        key_id = await key_id_for_hash(session=session, principal=principal, key_hash=key_hash)
    if workspace_id is not None:
        await workspace_in_org(session=session, org_id=org_id, workspace_id=workspace_id)
    usage_filter = UsageFilter(
        org_id=org_id,
        start=start,
        end=end,
        key_id=key_id,
        user_id=user_id,
        workspace_id=workspace_id,
        model=model,
        tag=tag,
    )
    usage_filter.validate()
    return usage_filter
