"""Reads of an org's workspaces, always within the org."""

from __future__ import annotations

from keyplane.kernel.repository import OrgRepository
from keyplane.models import Workspace
from keyplane.models.workspace import workspace_name_key


class WorkspaceRepository(OrgRepository[Workspace]):
    model = Workspace
    not_found = "Workspace not found"

    async def default(self) -> Workspace | None:
        return await self.first(self.select().where(Workspace.is_default.is_(True)))

    async def name_taken(self, name: str, exclude_id: str | None) -> bool:
        """True when another workspace of the org has this name (case-insensitive)."""
        query = self.select().where(Workspace.name_key == workspace_name_key(name))
        if exclude_id is not None:
            query = query.where(Workspace.id != exclude_id)
        return await self.first(query) is not None
