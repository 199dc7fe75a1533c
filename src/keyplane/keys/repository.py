"""Key reads, always within the caller's org, and within its own user's keys when it sees only those."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kernel.permissions import sees_only_own
from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.models import ApiKey
from keyplane.models.base import utcnow


def _not_expired() -> ColumnElement[bool]:
    return or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow())


class ApiKeyRepository(OrgRepository[ApiKey]):
    """Keys of one org; built with `creator_user_id`, only the keys that user created."""

    model = ApiKey
    not_found = "API key not found"

    def __init__(self, session: AsyncSession, org_id: str, *, creator_user_id: str | None = None) -> None:
        super().__init__(session, org_id)
        self.creator_user_id = creator_user_id

    @classmethod
    def visible_to(cls, session: AsyncSession, principal: Principal) -> ApiKeyRepository:
        """The keys the principal may see: its org's, or only its user's for a restricted caller."""
        own = (principal.user_id or "") if sees_only_own(principal) else None
        return cls(session, principal.require_org(), creator_user_id=own)

    def readable(self) -> ColumnElement[bool]:
        org = super().readable()
        if self.creator_user_id is None:
            return org
        return org & (ApiKey.creator_user_id == self.creator_user_id)

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        return await self.first(self.select().where(ApiKey.hash == key_hash))

    def of_creator(self, user_id: str) -> Select[ApiKey]:
        return self.select().where(ApiKey.creator_user_id == user_id)

    async def names_by_id(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """(hash, name) of the org's keys among `ids`; deleted keys (usage outlives them) are absent."""
        wanted, found = list(ids), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            statement = self.select_columns(ApiKey.id, ApiKey.hash, ApiKey.name).where(ApiKey.id.in_(chunk))
            for key_id, key_hash, name in (await self.session.execute(statement)).all():
                found[key_id] = (key_hash, name)
        return found

    async def count_unrevoked(
        self, *, user_id: str | None = None, kind: str | None = None, count_expired: bool = False
    ) -> int:
        """Keys (optionally of one creator and kind) that are not revoked, expired ones only if asked."""
        statement = self.select_columns(func.count()).where(ApiKey.revoked.is_(False))
        if user_id is not None:
            statement = statement.where(ApiKey.creator_user_id == user_id)
        if kind is not None:
            statement = statement.where(ApiKey.kind == kind)
        if not count_expired:
            statement = statement.where(_not_expired())
        return int(await self.scalar(statement))

    async def page(
        self,
        *,
        workspace_id: str | None,
        include_disabled: bool,
        include_expired: bool,
        offset: int,
        limit: int,
        kind: str | None = None,
        search: str | None = None,
    ) -> list[ApiKey]:
        """Unrevoked keys of the org (or of one of its workspaces), newest first; `search`: in the name."""
        query = self.select().where(ApiKey.revoked.is_(False))
        if search:
            escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(ApiKey.name).like(f"%{escaped}%", escape="\\"))
        if workspace_id is not None:
            query = query.where(ApiKey.workspace_id == workspace_id)
        if kind is not None:
            query = query.where(ApiKey.kind == kind)
        if not include_disabled:
            query = query.where(ApiKey.disabled.is_(False))
        if not include_expired:
            query = query.where(_not_expired())
        query = query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).offset(offset).limit(limit)
        return list(await self.list(query))
