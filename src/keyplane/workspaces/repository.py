"""Reads of an org's workspaces, always within the org."""

from __future__ import annotations

from sqlalchemy import func

from keyplane.kernel.repository import OrgRepository
from keyplane.models import Workspace


class WorkspaceRepository(OrgRepository[Workspace]):
    model = Workspace
    not_found = "Workspace not found"

    async def default(self) -> Workspace | None:
        return await self.first(self.select().where(Workspace.is_default.is_(True)))

    async def name_taken(self, name: str, exclude_id: str | None) -> bool:
        """True when another workspace of the org has this name (case-insensitive)."""
        query = self.select().where(func.lower(Workspace.name) == name.lower())
        if exclude_id is not None:
            query = query.where(Workspace.id != exclude_id)
        return await self.first(query) is not None
