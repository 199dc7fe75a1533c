"""Workspaces: list, create and rename (admins), each with its project config (the gateway's
inference settings) shown read-only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.errors import KeyplaneError
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
