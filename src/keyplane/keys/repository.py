"""Key queries, always scoped to what the calling principal may see."""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kernel.principal import Principal
from keyplane.keys.lookup import visible_keys
from keyplane.models import ApiKey
from keyplane.models.base import utcnow


async def list_visible_keys(
    session: AsyncSession,
    principal: Principal,
    *,
    workspace_id: str,
    include_disabled: bool,
    include_expired: bool,
    offset: int,
    limit: int,
    kind: str | None = None,
) -> list[ApiKey]:
    query = visible_keys(principal).where(ApiKey.workspace_id == workspace_id, ApiKey.revoked.is_(False))
    if kind is not None:
        query = query.where(ApiKey.kind == kind)
    if not include_disabled:
        query = query.where(ApiKey.disabled.is_(False))
    if not include_expired:
        query = query.where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()))
    query = query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(query)).scalars())
