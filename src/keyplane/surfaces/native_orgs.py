"""keyplane's own org routes: the current organization, its workspaces and its members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from keyplane.deps import (
    ManagementPrincipal,
    OrgsReadAdmin,
    OrgsWriteAdmin,
    Session,
    get_context,
    require_management_key,
)
from keyplane.errors import BadRequest
from keyplane.models import Organization, Workspace
from keyplane.models.membership import ROLES
from keyplane.orgs import invitations, members
from keyplane.orgs.current import current_organization, rename_organization
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdPath, Name
from keyplane.surfaces.native_tenants import InvitationEnvelope, issued_out
from keyplane.surfaces.openrouter_shapes import iso
from keyplane.workspaces import service as workspaces
from keyplane.workspaces.service import default_workspace

router = APIRouter(prefix="/api/v1", tags=["organizations"], dependencies=[Depends(require_management_key)])

Role = Annotated[StrictStr, Field(max_length=20, description=f"One of {', '.join(ROLES)}.")]


class NameBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class AddMemberBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[StrictStr, Field(min_length=3, max_length=320, pattern=NO_CONTROL_CHARACTERS)]
    role: Role = "member"
    password: Annotated[StrictStr, Field(max_length=1024)] | None = Field(
        default=None, description="Refused: the invitee chooses their own password when accepting."
    )
    name: Annotated[StrictStr, Field(max_length=200, pattern=NO_CONTROL_CHARACTERS)] = ""


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


def org_object(org: Organization, default_workspace_id: str, role: str | None, base: str) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "default_workspace_id": default_workspace_id,
        "base_currency": base,
        "role": role,
        "created_at": iso(org.created_at),
        "updated_at": iso(org.updated_at),
    }


def workspace_object(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "is_default": workspace.is_default,
        "created_at": iso(workspace.created_at),
    }


def member_object(member: members.Member) -> dict[str, Any]:
    return {
        "user_id": member.user.id,
        "email": member.user.email,
        "name": member.user.name,
        "role": member.membership.role,
        "created_at": iso(member.membership.created_at),
    }


async def _org_payload(request: Request, session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    org = await current_organization(session=session, principal=principal)
    workspace = await default_workspace(session=session, org_id=org.id)
    return org_object(org, workspace.id, principal.role, get_context(request).settings.base_currency)


@router.get("/organizations/current")
async def get_current(request: Request, session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    return {"data": await _org_payload(request, session, principal)}


@router.patch("/organizations/current")
async def rename_current(
    body: NameBody, request: Request, session: Session, principal: OrgsWriteAdmin
) -> dict[str, Any]:
    await rename_organization(session=session, principal=principal, name=body.name)
    return {"data": await _org_payload(request, session, principal)}


@router.get("/workspaces")
async def list_workspaces(session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    found = await workspaces.list_workspaces(session=session, org_id=principal.require_org())
    return {"data": [workspace_object(w) for w in found]}


@router.post("/workspaces", status_code=201)
async def create_workspace(body: NameBody, session: Session, principal: OrgsWriteAdmin) -> JSONResponse:
    workspace = await workspaces.create_workspace(session=session, principal=principal, name=body.name)
    return JSONResponse({"data": workspace_object(workspace)}, status_code=201)


@router.patch("/workspaces/{workspace_id}")
async def rename_workspace(
    workspace_id: IdPath, body: NameBody, session: Session, principal: OrgsWriteAdmin
) -> dict[str, Any]:
    workspace = await workspaces.rename_workspace(
        session=session, principal=principal, workspace_id=workspace_id, name=body.name
    )
    return {"data": workspace_object(workspace)}


@router.get("/members")
async def list_members(session: Session, principal: OrgsReadAdmin) -> dict[str, Any]:
    found = await members.list_members(session=session, principal=principal)
    return {"data": [member_object(m) for m in found]}


@router.post("/members", status_code=201, response_model=InvitationEnvelope, responses={400: {}, 403: {}})
async def add_member(
    body: AddMemberBody, request: Request, session: Session, principal: OrgsWriteAdmin
) -> JSONResponse:
    """Invite a person by email; the answer is the same whether or not they already have an account."""
    if body.password is not None:
        raise BadRequest(
            "password is not accepted: members join through an invitation and choose their own "
            "password (POST /api/v1/invitations/accept)"
        )
    issued = await invitations.invite_member(
        session=session,
        principal=principal,
        email=body.email,
        role=body.role,
        ttl_hours=get_context(request).settings.invitation_ttl_hours,
        name=body.name,
    )
    answer = InvitationEnvelope(invitation=issued_out(issued))
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


@router.patch("/members/{user_id}")
async def change_role(
    user_id: IdPath, body: RoleBody, session: Session, principal: OrgsWriteAdmin
) -> dict[str, Any]:
    member = await members.change_role(session=session, principal=principal, user_id=user_id, role=body.role)
    return {"data": member_object(member)}


@router.delete("/members/{user_id}")
async def remove_member(user_id: IdPath, session: Session, principal: OrgsWriteAdmin) -> dict[str, Any]:
    await members.remove_member(session=session, principal=principal, user_id=user_id)
    return {"deleted": True}
