"""Organizations (operator admins): every org, create one with an owner invitation, suspend or
resume, add credit. The same orgs.tenants and billing.ledger services as the operator's API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.billing.ledger import add_credit, balance_nanos
from keyplane.deps import Session
from keyplane.errors import BadRequest, KeyplaneError
from keyplane.kernel.money import usd_to_nanos
from keyplane.models import LedgerEntry
from keyplane.orgs import tenants
from keyplane.orgs.invitations import IssuedInvitation
from keyplane.surfaces.dashboard.common import context_of
from keyplane.surfaces.dashboard.forms import attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Id = Annotated[str, Path(max_length=64)]
PAGE = 50


async def orgs_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    page: int = 1,
    form: dict[str, str] | None = None,
    error: str | None = None,
    created: tuple[tenants.Tenant, IssuedInvitation] | None = None,
    status: int = 200,
) -> HTMLResponse:
    found, total = await tenants.list_tenants(
        session=session, principal=user.principal, page=page, page_size=PAGE
    )
    balances = {t.org.id: await balance_nanos(session=session, org_id=t.org.id) for t in found}
    return render(
        request,
        "organizations.html",
        user,
        title="Organizations",
        orgs=found,
        balances=balances,
        total=total,
        page=page,
        has_more=page * PAGE < total,
        form=form or {},
        created=created,
        error=error,
        status=status,
    )


@router.get("/organizations", response_class=HTMLResponse)
async def list_orgs(
    request: Request, session: Session, user: SignedIn, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    return await orgs_page(request, session, user, page=page)


@router.post("/organizations", response_class=HTMLResponse)
async def create_org(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    """The owner's invitation token is rendered in this answer only."""
    form = await read_form(request)
    result = await attempt(
        session,
        tenants.create_tenant(
            session=session,
            principal=user.principal,
            name=form.text("name"),
            owner_email=form.text("owner_email"),
            owner_name=form.text("owner_name"),
            ttl_hours=context_of(request).settings.invitation_ttl_hours,
        ),
    )
    if isinstance(result, KeyplaneError):
        return await orgs_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return await orgs_page(request, session, user, created=result)


async def _set_status(
    request: Request, session: AsyncSession, user: DashboardUser, org_id: str, status: str
) -> Response:
    result = await attempt(
        session,
        tenants.update_tenant(session=session, principal=user.principal, org_id=org_id, status=status),
    )
    if isinstance(result, KeyplaneError):
        return await orgs_page(request, session, user, error=result.message, status=result.status_code)
    return done("/organizations", "org-updated")


@router.post("/organizations/{org_id}/suspend")
async def suspend(org_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    return await _set_status(request, session, user, org_id, "suspended")


@router.post("/organizations/{org_id}/resume")
async def resume(org_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    return await _set_status(request, session, user, org_id, "active")


@router.post("/organizations/{org_id}/credit")
async def credit(org_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)

    async def add() -> LedgerEntry:
        amount = form.usd("amount", "Amount (USD)")
        if amount is None or amount <= 0:
            raise BadRequest("Amount (USD) must be more than 0")
        return await add_credit(
            session=session,
            principal=user.principal,
            org_id=org_id,
            amount_nanos=usd_to_nanos(amount),
            note=form.text("note"),
        )

    result = await attempt(session, add())
    if isinstance(result, KeyplaneError):
        return await orgs_page(request, session, user, error=result.message, status=result.status_code)
    return done("/organizations", "credit-added")
