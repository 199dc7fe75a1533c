"""Workspaces: list, create and rename (admins), and each one's project config (the gateway's
inference settings: allowed providers, max_tokens cap, fallback), as the Cortecs API sets it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.errors import KeyplaneError
from keyplane.models.base import utcnow
from keyplane.project_configs import service as project_configs
from keyplane.project_configs.schemas import PREFERENCES, InferenceConfigUpdate, ProjectConfigUpdate
from keyplane.surfaces.dashboard.forms import attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn
from keyplane.workspaces import service as workspaces

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Id = Annotated[str, Path(max_length=64)]


async def workspaces_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "workspaces.html",
        user,
        title="Workspaces",
        workspaces=await workspaces.list_workspaces(session=session, org_id=user.principal.require_org()),
        form=form or {},
        error=error,
        status=status,
    )


@router.get("/workspaces", response_class=HTMLResponse)
async def list_workspaces(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await workspaces_page(request, session, user)


@router.post("/workspaces", response_class=HTMLResponse)
async def create_workspace(request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)
    result = await attempt(
        session,
        workspaces.create_workspace(session=session, principal=user.principal, name=form.text("name")),
    )
    if isinstance(result, KeyplaneError):
        return await workspaces_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return done("/workspaces", "workspace-saved")


@router.post("/workspaces/{workspace_id}/rename")
async def rename_workspace(workspace_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)
    result = await attempt(
        session,
        workspaces.rename_workspace(
            session=session, principal=user.principal, workspace_id=workspace_id, name=form.text("name")
        ),
    )
    if isinstance(result, KeyplaneError):
        return await workspaces_page(request, session, user, error=result.message, status=result.status_code)
    return done("/workspaces", "workspace-saved")


CHECKS = ("eu_native", "allow_quantization", "allow_zero_data_retention", "enable_model_fallback")


async def _config_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    workspace_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    org_id = user.principal.require_org()
    workspace = await workspaces.workspace_in_org(session=session, org_id=org_id, workspace_id=workspace_id)
    config = await project_configs.get_project_config(
        session=session, org_id=org_id, workspace_id=workspace.id
    )
    return render(
        request,
        "project_config.html",
        user,
        title=f"Project config of “{workspace.name}”",
        workspace=workspace,
        config=project_configs.inference_config_of(config),
        allow_overwrite=config.allow_overwrite,
        may_edit=user.is_admin or config.allow_overwrite,
        preferences=PREFERENCES,
        error=error,
        status=status,
    )


@router.get("/workspaces/{workspace_id}/config", response_class=HTMLResponse)
async def project_config(
    workspace_id: Id, request: Request, session: Session, user: SignedIn
) -> HTMLResponse:
    return await _config_page(request, session, user, workspace_id)


@router.post("/workspaces/{workspace_id}/config", response_class=HTMLResponse)
async def save_project_config(
    workspace_id: Id, request: Request, session: Session, user: SignedIn
) -> Response:
    """The same update as Cortecs's PUT /v1/manage/project-configs, for one workspace."""
    form = await read_form(request)

    async def save() -> object:
        stamp = utcnow().isoformat()
        inference = InferenceConfigUpdate(
            allowed_providers=form.split("allowed_providers") or [],
            preference=form.optional("preference"),
            max_tokens=form.integer("max_tokens", "Max tokens"),
            **{name: form.checked(name) for name in CHECKS},
        )
        update = ProjectConfigUpdate(
            inference_config=inference,
            allow_overwrite=form.checked("allow_overwrite") if user.is_admin else None,
            created_at=stamp,
            updated_at=stamp,
        )
        return await project_configs.update_project_config(
            session=session, principal=user.principal, workspace_id=workspace_id, update=update
        )

    result = await attempt(session, save())
    if isinstance(result, KeyplaneError):
        return await _config_page(
            request, session, user, workspace_id, error=result.message, status=result.status_code
        )
    return done("/workspaces", "config-saved")
