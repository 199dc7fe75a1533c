"""Members and invitations of the current org (admins): invite (token shown once), change a role,
remove a member, cancel an invitation. The same orgs services as /api/v1/members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.errors import KeyplaneError
from keyplane.models.membership import ROLES
from keyplane.orgs import invitations, members
from keyplane.orgs.invitations import IssuedInvitation
from keyplane.surfaces.dashboard.common import context_of
from keyplane.surfaces.dashboard.forms import attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Id = Annotated[str, Path(max_length=64)]


async def members_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    issued: IssuedInvitation | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "members.html",
        user,
        title="Members",
        members=await members.list_members(session=session, principal=user.principal),
        invitations=await invitations.list_invitations(session=session, principal=user.principal),
        roles=ROLES,
        form=form or {"role": "member"},
        issued=issued,
        error=error,
        status=status,
    )


@router.get("/members", response_class=HTMLResponse)
async def list_members(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await members_page(request, session, user)


@router.post("/members/invite", response_class=HTMLResponse)
async def invite(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    """The invitation token is rendered in this answer only: hand it to the person invited."""
    form = await read_form(request)
    result = await attempt(
        session,
        invitations.invite_member(
            session=session,
            principal=user.principal,
            email=form.text("email"),
            role=form.text("role"),
            ttl_hours=context_of(request).settings.invitation_ttl_hours,
            name=form.text("name"),
        ),
    )
    if isinstance(result, KeyplaneError):
        return await members_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return await members_page(request, session, user, issued=result)


@router.post("/members/{user_id}/role")
async def change_role(user_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    role = (await read_form(request)).text("role")
    result = await attempt(
        session, members.change_role(session=session, principal=user.principal, user_id=user_id, role=role)
    )
    if isinstance(result, KeyplaneError):
        return await members_page(request, session, user, error=result.message, status=result.status_code)
    return done("/members", "member-updated")


@router.post("/members/{user_id}/remove")
async def remove(user_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    result = await attempt(
        session, members.remove_member(session=session, principal=user.principal, user_id=user_id)
    )
    if isinstance(result, KeyplaneError):
        return await members_page(request, session, user, error=result.message, status=result.status_code)
    return done("/members", "member-removed")


@router.post("/invitations/{invitation_id}/cancel")
async def cancel(invitation_id: Id, request: Request, session: Session, user: SignedIn) -> Response:
    result = await attempt(
        session,
        invitations.cancel_invitation(session=session, principal=user.principal, invitation_id=invitation_id),
    )
    if isinstance(result, KeyplaneError):
        return await members_page(request, session, user, error=result.message, status=result.status_code)
    return done("/members", "invitation-cancelled")
