"""Project config rules: defaults on first read, admin-only changes unless allow_overwrite, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.kernel.scopes import SETTINGS_WRITE, require_scope
from keyplane.kernel.writes import upsert
from keyplane.models import ProjectConfig, Workspace
from keyplane.models.base import new_uuid, utcnow
from keyplane.project_configs.schemas import DEFAULT_INFERENCE_CONFIG, NULLABLE_FIELDS, ProjectConfigUpdate
from keyplane.providers.catalog import PROVIDERS, is_known_provider
from keyplane.workspaces.repository import WorkspaceRepository


def inference_config_of(config: ProjectConfig) -> dict[str, Any]:
    """Every field present: stored values over the defaults (rows may predate a new field)."""
    stored = config.inference_config or {}
    return {name: stored.get(name, default) for name, default in DEFAULT_INFERENCE_CONFIG.items()}


class ProjectConfigRepository(OrgRepository[ProjectConfig]):
    """Configs of the org's workspaces (a config belongs to its org through its workspace)."""

    model = ProjectConfig

    def readable(self) -> ColumnElement[bool]:
        return ProjectConfig.workspace_id.in_(select(Workspace.id).where(Workspace.org_id == self.org_id))

    async def of_workspace(self, workspace_id: str, *, for_update: bool = False) -> ProjectConfig | None:
        query = self.select().where(ProjectConfig.workspace_id == workspace_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self.first(query)


async def get_project_config(*, session: AsyncSession, org_id: str, workspace_id: str) -> ProjectConfig:
    """The workspace's config, created with the defaults on first read (safe under concurrent reads)."""
    configs = ProjectConfigRepository(session, org_id)
    config = await configs.of_workspace(workspace_id)
    if config is not None:
        return config
    if await WorkspaceRepository(session, org_id).get_or_none(workspace_id) is None:
        raise NotFound("Project configuration not found")
    now = utcnow()
    values = {
        "id": new_uuid(),
        "workspace_id": workspace_id,
        "inference_config": dict(DEFAULT_INFERENCE_CONFIG),
        "allow_overwrite": False,
        "created_at": now,
        "updated_at": now,
    }
    await upsert(session, ProjectConfig, values, key=["workspace_id"], keep=values)  # first one wins
    config = await configs.of_workspace(workspace_id)
    assert config is not None
    return config


def _clean_providers(names: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not is_known_provider(name):
            known = ", ".join(sorted(PROVIDERS))
            raise BadRequest(
                f"Unknown provider '{raw[:100]}' in allowed_providers; known providers: {known}",
                code="unknown_provider",
            )
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


async def update_project_config(
    *,
    session: AsyncSession,
    principal: Principal,
    workspace_id: str,
    update: ProjectConfigUpdate,
) -> ProjectConfig:
    """Apply the sent fields; only admins may change it while allow_overwrite is false.

    While allow_overwrite is true any management key of the workspace's org may change the
    inference config, but allow_overwrite itself stays an admin decision.
    """
    require_scope(principal, SETTINGS_WRITE)
    org_id = principal.require_org()
    await get_project_config(session=session, org_id=org_id, workspace_id=workspace_id)
    config = await ProjectConfigRepository(session, org_id).of_workspace(workspace_id, for_update=True)
    assert config is not None
    is_admin = principal.is_admin
    if not is_admin and not config.allow_overwrite:
        raise Forbidden(
            "Only project admins can change the project config while allow_overwrite is false",
            code="admin_required",
        )
    current = inference_config_of(config)
    changes: dict[str, Any] = {}
    for name, value in update.inference_config.sent_values().items():
        if value is None and name not in NULLABLE_FIELDS:
            raise BadRequest(f"inference_config.{name} must not be null")
        if name == "allowed_providers":
            value = _clean_providers(value)
        if current[name] != value:
            changes[name] = value
    new_overwrite = update.allow_overwrite
    if new_overwrite is not None and new_overwrite != config.allow_overwrite:
        if not is_admin:
            raise Forbidden("Only project admins can change allow_overwrite", code="admin_required")
        changes["allow_overwrite"] = new_overwrite
    if not changes:
        return config
    config.inference_config = {**current, **{k: v for k, v in changes.items() if k in current}}
    if new_overwrite is not None:
        config.allow_overwrite = new_overwrite
    config.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        principal,
        "project_config.updated",
        config,
        org_id=org_id,
        workspace_id=workspace_id,
        changes=changes,
    )
    return config
