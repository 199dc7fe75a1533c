"""keyplane's own org routes: the current organization, its workspaces and its members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
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
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdPath, Name
from keyplane.surfaces.native_tenants import InvitationEnvelope, issued_out
from keyplane.surfaces.openrouter_shapes import Deleted, iso
from keyplane.workspaces import service as workspaces
from keyplane.workspaces.service import default_workspace

router = APIRouter(
    prefix="/api/v1",
    tags=["organizations"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)
CONFLICT = error_responses("openrouter", 409)
MISSING_OR_CONFLICT = error_responses("openrouter", 404, 409)

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


class CurrentOrgOut(BaseModel):
    """The caller's org; `role` is the role of the key's creator in it."""

    id: str
    name: str
    default_workspace_id: str
    base_currency: str
    role: str | None
    created_at: str
    updated_at: str


class CurrentOrgData(BaseModel):
    data: CurrentOrgOut


class WorkspaceOut(BaseModel):
    id: str
    name: str
    is_default: bool
    created_at: str


class WorkspaceData(BaseModel):
    data: WorkspaceOut


class WorkspaceList(BaseModel):
    data: list[WorkspaceOut]


class MemberOut(BaseModel):
    user_id: str
    email: str
    name: str
    role: str
    created_at: str


class MemberData(BaseModel):
    data: MemberOut


class MemberList(BaseModel):
    data: list[MemberOut]


def org_object(org: Organization, default_workspace_id: str, role: str | None, base: str) -> CurrentOrgOut:
    return CurrentOrgOut(
        id=org.id,
        name=org.name,
        default_workspace_id=default_workspace_id,
        base_currency=base,
        role=role,
        created_at=iso(org.created_at),
        updated_at=iso(org.updated_at),
    )


def workspace_object(workspace: Workspace) -> WorkspaceOut:
    return WorkspaceOut(
        id=workspace.id,
        name=workspace.name,
        is_default=workspace.is_default,
        created_at=iso(workspace.created_at),
    )


def member_object(member: members.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user.id,
        email=member.user.email,
        name=member.user.name,
        role=member.membership.role,
        created_at=iso(member.membership.created_at),
    )


async def _org_payload(request: Request, session: Session, principal: ManagementPrincipal) -> CurrentOrgOut:
    org = await current_organization(session=session, principal=principal)
    workspace = await default_workspace(session=session, org_id=org.id)
    return org_object(org, workspace.id, principal.role, get_context(request).settings.base_currency)


@router.get("/organizations/current", response_model=CurrentOrgData)
async def get_current(request: Request, session: Session, principal: ManagementPrincipal) -> CurrentOrgData:
    return CurrentOrgData(data=await _org_payload(request, session, principal))


@router.patch("/organizations/current", response_model=CurrentOrgData)
async def rename_current(
    body: NameBody, request: Request, session: Session, principal: OrgsWriteAdmin
) -> CurrentOrgData:
    await rename_organization(session=session, principal=principal, name=body.name)
    return CurrentOrgData(data=await _org_payload(request, session, principal))


@router.get("/workspaces", response_model=WorkspaceList)
async def list_workspaces(session: Session, principal: ManagementPrincipal) -> WorkspaceList:
    found = await workspaces.list_workspaces(session=session, org_id=principal.require_org())
    return WorkspaceList(data=[workspace_object(w) for w in found])


@router.post("/workspaces", status_code=201, response_model=WorkspaceData, responses=CONFLICT)
async def create_workspace(body: NameBody, session: Session, principal: OrgsWriteAdmin) -> WorkspaceData:
    workspace = await workspaces.create_workspace(session=session, principal=principal, name=body.name)
    return WorkspaceData(data=workspace_object(workspace))


@router.patch("/workspaces/{workspace_id}", response_model=WorkspaceData, responses=MISSING_OR_CONFLICT)
async def rename_workspace(
    workspace_id: IdPath, body: NameBody, session: Session, principal: OrgsWriteAdmin
) -> WorkspaceData:
    workspace = await workspaces.rename_workspace(
        session=session, principal=principal, workspace_id=workspace_id, name=body.name
    )
    return WorkspaceData(data=workspace_object(workspace))


@router.get("/members", response_model=MemberList)
async def list_members(session: Session, principal: OrgsReadAdmin) -> MemberList:
    found = await members.list_members(session=session, principal=principal)
    return MemberList(data=[member_object(m) for m in found])


@router.post("/members", status_code=201, response_model=InvitationEnvelope, responses=CONFLICT)
async def add_member(
    body: AddMemberBody, request: Request, session: Session, principal: OrgsWriteAdmin
) -> InvitationEnvelope:
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
    return InvitationEnvelope(invitation=issued_out(issued))


@router.patch("/members/{user_id}", response_model=MemberData, responses=MISSING_OR_CONFLICT)
async def change_role(
    user_id: IdPath, body: RoleBody, session: Session, principal: OrgsWriteAdmin
) -> MemberData:
    member = await members.change_role(session=session, principal=principal, user_id=user_id, role=body.role)
    return MemberData(data=member_object(member))


@router.delete("/members/{user_id}", response_model=Deleted, responses=MISSING_OR_CONFLICT)
async def remove_member(user_id: IdPath, session: Session, principal: OrgsWriteAdmin) -> Deleted:
    await members.remove_member(session=session, principal=principal, user_id=user_id)
    return Deleted(deleted=True)
