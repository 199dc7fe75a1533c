"""Workspaces of the caller's org: anyone of the org may list, admins (orgs:write) create and rename."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, Conflict, NotFound
from keyplane.kernel.permissions import require_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ORGS_WRITE
from keyplane.kernel.writes import flush_or_conflict
from keyplane.models import Workspace
from keyplane.models.base import utcnow
from keyplane.workspaces.repository import WorkspaceRepository

MAX_WORKSPACES_PER_ORG = 1000


async def default_workspace(*, session: AsyncSession, org_id: str) -> Workspace:
    workspace = await WorkspaceRepository(session, org_id).default()
    if workspace is None:
        raise NotFound("The organization has no default workspace")
    return workspace


async def workspace_in_org(*, session: AsyncSession, org_id: str, workspace_id: str | None) -> Workspace:
    """The named workspace of this org (404 for another org's), or the org's default one."""
    if workspace_id is None:
        return await default_workspace(session=session, org_id=org_id)
    return await WorkspaceRepository(session, org_id).get_by_id(workspace_id)


def clean_workspace_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest("Workspace name must be 1-200 characters")
    return name


async def list_workspaces(*, session: AsyncSession, org_id: str) -> list[Workspace]:
    repository = WorkspaceRepository(session, org_id)
    query = (
        repository.select()
        .order_by(Workspace.is_default.desc(), Workspace.created_at, Workspace.id)
        .limit(MAX_WORKSPACES_PER_ORG)
    )
    return list(await repository.list(query))


def _name_conflict(name: str) -> str:
    return f"A workspace named '{name}' already exists in this organization"


async def _check_unique_name(session: AsyncSession, org_id: str, name: str, exclude_id: str | None) -> None:
    """The early, friendly answer; the unique index decides when requests race (flush_or_conflict)."""
    if await WorkspaceRepository(session, org_id).name_taken(name, exclude_id):
        raise Conflict(_name_conflict(name))


async def create_workspace(*, session: AsyncSession, principal: Principal, name: str) -> Workspace:
    require_admin(principal, ORGS_WRITE)
    org_id = principal.require_org()
    name = clean_workspace_name(name)
    await _check_unique_name(session, org_id, name, None)
    if await WorkspaceRepository(session, org_id).count() >= MAX_WORKSPACES_PER_ORG:
        raise BadRequest(f"An organization has at most {MAX_WORKSPACES_PER_ORG} workspaces")
    workspace = Workspace(org_id=org_id, name=name, is_default=False, created_at=utcnow())
    session.add(workspace)
    await flush_or_conflict(session, _name_conflict(name))
    await audit.record(session, principal, "workspace.created", workspace, name=name)
    return workspace


async def rename_workspace(
    *, session: AsyncSession, principal: Principal, workspace_id: str, name: str
) -> Workspace:
    require_admin(principal, ORGS_WRITE)
    org_id = principal.require_org()
    workspace = await workspace_in_org(session=session, org_id=org_id, workspace_id=workspace_id)
    name = clean_workspace_name(name)
    await _check_unique_name(session, org_id, name, workspace.id)
    previous, workspace.name = workspace.name, name
    await flush_or_conflict(session, _name_conflict(name))
    await audit.record(session, principal, "workspace.updated", workspace, name=name, previous_name=previous)
    return workspace
