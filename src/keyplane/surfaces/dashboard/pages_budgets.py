"""Budgets (admins): spending caps on the org, a workspace or a key, with spend so far; create, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.billing import budgets
from keyplane.deps import Session
from keyplane.errors import BadRequest, KeyplaneError
from keyplane.keys import service as keys
from keyplane.models.budget import BUDGET_SCOPES
from keyplane.surfaces.dashboard.forms import attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn
from keyplane.workspaces.service import list_workspaces

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Id = Annotated[str, Path(max_length=64)]
KEY_CHOICES = 200


async def budgets_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = await budgets.list_budgets(session=session, principal=user.principal) if user.is_admin else []
    workspaces = await list_workspaces(session=session, org_id=user.principal.require_org())
    key_list = (
        await keys.list_keys(
            session=session,
            principal=user.principal,
            workspace_id=None,
            include_disabled=True,
            include_expired=True,
            limit=KEY_CHOICES,
            kind="inference",
        )
        if user.is_admin
        else []
    )
    return render(
        request,
        "budgets.html",
        user,
        title="Budgets",
        budgets=found,
        scopes=BUDGET_SCOPES,
        workspaces=workspaces,
        key_list=key_list,
        names={w.id: w.name for w in workspaces},
        form=form or {"scope": "org"},
        error=error,
        status=status,
    )


@router.get("/budgets", response_class=HTMLResponse)
async def list_budgets(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await budgets_page(request, session, user)


@router.post("/budgets", response_class=HTMLResponse)
async def create_budget(request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)

    async def create() -> budgets.BudgetView:
        limit = form.usd("limit", "Limit (USD)")
        if limit is None:
            raise BadRequest("Limit (USD) is required")
        scope = form.text("scope")
        return await budgets.create_budget(
            session=session,
            principal=user.principal,
            scope=scope,
            limit_usd=limit,
            reset=form.optional("reset"),
            name=form.optional("name"),
            workspace_id=form.optional("workspace_id") if scope == "workspace" else None,
            key_hash=form.optional("key_hash") if scope == "key" else None,
        )

    result = await attempt(session, create())
    if isinstance(result, KeyplaneError):
        return await budgets_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return done("/budgets", "budget-saved")


@router.post("/budgets/{budget_id}/delete")
async def delete_budget(budget_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    result = await attempt(
        session, budgets.delete_budget(session=session, principal=user.principal, budget_id=budget_id)
    )
    if isinstance(result, KeyplaneError):
        return await budgets_page(request, session, user, error=result.message, status=result.status_code)
    return done("/budgets", "budget-deleted")
