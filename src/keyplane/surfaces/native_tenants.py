"""Tenant orgs and invitations (keyplane native, OpenRouter's error shape).

/api/v1/organizations[/{id}] is the operator's (owners/admins of the first org, orgs:write);
/api/v1/invitations is each org's own; POST /api/v1/invitations/accept needs no auth: the token is it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from keyplane.deps import (
    OrgsReadAdmin,
    OrgsWriteAdmin,
    Session,
    TenantsReader,
    TenantsWriter,
    client_ip,
    get_context,
    require_management_key,
)
from keyplane.models import Invitation
from keyplane.orgs import invitations, tenants
from keyplane.orgs.invitations import IssuedInvitation
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdPath, Name
from keyplane.surfaces.native_usage_schemas import Pagination
from keyplane.surfaces.openrouter_shapes import Deleted

AUTHENTICATED = error_responses("openrouter", 400, 401, 403)
operator = APIRouter(
    prefix="/api/v1/organizations",
    tags=["organizations"],
    dependencies=[Depends(require_management_key)],
    responses=AUTHENTICATED,
)
org_admin = APIRouter(
    prefix="/api/v1/invitations",
    tags=["invitations"],
    dependencies=[Depends(require_management_key)],
    responses=AUTHENTICATED,
)
public = APIRouter(prefix="/api/v1/invitations", tags=["invitations"])

Email = Annotated[StrictStr, Field(min_length=3, max_length=320, pattern=NO_CONTROL_CHARACTERS)]
PersonName = Annotated[StrictStr, Field(max_length=200, pattern=NO_CONTROL_CHARACTERS)]
Status = Literal["active", "suspended"]


class OrgOut(BaseModel):
    id: str
    name: str
    status: Status
    created_at: datetime
    default_workspace_id: str
    max_api_keys: int | None = Field(description="Active keys the org may hold; null: the server default.")


class InvitationOut(BaseModel):
    id: str
    org_id: str
    email: str
    role: str
    expires_at: datetime
    created_at: datetime
    token: str | None = Field(default=None, description="Only in the answer that created it.")


class OrgEnvelope(BaseModel):
    data: OrgOut


class CreatedOrg(BaseModel):
    data: OrgOut
    invitation: InvitationOut


class OrgPage(BaseModel):
    data: list[OrgOut]
    pagination: Pagination


class InvitationEnvelope(BaseModel):
    invitation: InvitationOut


class InvitationList(BaseModel):
    data: list[InvitationOut]


class AcceptedOut(BaseModel):
    user_id: str
    org_id: str
    role: str
    email: str


class AcceptedEnvelope(BaseModel):
    data: AcceptedOut


class CreateOrgBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    owner_email: Email
    owner_name: PersonName = ""


class UpdateOrgBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    status: Status | None = None
    max_api_keys: StrictInt | None = Field(default=None, description="null resets to the server default.")


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    name: PersonName = ""


def org_out(tenant: tenants.Tenant) -> OrgOut:
    org = tenant.org
    return OrgOut(
        id=org.id,
        name=org.name,
        status="suspended" if org.is_suspended else "active",
        created_at=org.created_at,
        default_workspace_id=tenant.default_workspace_id,
        max_api_keys=org.max_api_keys,
    )


def invitation_out(invitation: Invitation, token: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        org_id=invitation.org_id,
        email=invitation.email,
        role=invitation.role,
        expires_at=invitation.expires_at,
        created_at=invitation.created_at,
        token=token,
    )


def issued_out(issued: IssuedInvitation) -> InvitationOut:
    return invitation_out(issued.invitation, issued.token)


def _ttl(request: Request) -> int:
    return get_context(request).settings.invitation_ttl_hours


@operator.post("", status_code=201, response_model=CreatedOrg, responses=error_responses("openrouter", 409))
async def create_org(
    body: CreateOrgBody, request: Request, session: Session, principal: TenantsWriter
) -> CreatedOrg:
    """A tenant org with its default workspace and an owner invitation; the token is shown only here."""
    tenant, issued = await tenants.create_tenant(
        session=session,
        principal=principal,
        name=body.name,
        owner_email=body.owner_email,
        ttl_hours=_ttl(request),
        owner_name=body.owner_name,
    )
    return CreatedOrg(data=org_out(tenant), invitation=issued_out(issued))


@operator.get("", response_model=OrgPage)
async def list_orgs(
    session: Session,
    principal: TenantsReader,
    status: Status | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=tenants.MAX_ORGS_PAGE)] = 100,
) -> OrgPage:
    """Every org on the server, the operator's first, one page at a time."""
    found, total = await tenants.list_tenants(
        session=session, principal=principal, page=page, page_size=page_size, status=status
    )
    pagination = Pagination(page=page, page_size=page_size, total=total, has_more=page * page_size < total)
    return OrgPage(data=[org_out(t) for t in found], pagination=pagination)


@operator.get("/{org_id}", response_model=OrgEnvelope, responses=error_responses("openrouter", 404))
async def get_org(org_id: IdPath, session: Session, principal: TenantsReader) -> OrgEnvelope:
    return OrgEnvelope(
        data=org_out(await tenants.get_tenant(session=session, principal=principal, org_id=org_id))
    )


@operator.patch("/{org_id}", response_model=OrgEnvelope, responses=error_responses("openrouter", 404, 409))
async def update_org(
    org_id: IdPath, body: UpdateOrgBody, session: Session, principal: TenantsWriter
) -> OrgEnvelope:
    """Rename, suspend (status "suspended") or resume ("active") an org, or change its key cap."""
    tenant = await tenants.update_tenant(
        session=session,
        principal=principal,
        org_id=org_id,
        name=body.name,
        status=body.status,
        max_api_keys=body.max_api_keys,
        clear_max_api_keys="max_api_keys" in body.model_fields_set and body.max_api_keys is None,
    )
    return OrgEnvelope(data=org_out(tenant))


@org_admin.get("", response_model=InvitationList)
async def list_invitations(session: Session, principal: OrgsReadAdmin) -> InvitationList:
    """The org's invitations not yet accepted (tokens are never shown again)."""
    found = await invitations.list_invitations(session=session, principal=principal)
    return InvitationList(data=[invitation_out(i) for i in found])


@org_admin.delete("/{invitation_id}", response_model=Deleted, responses=error_responses("openrouter", 404))
async def cancel_invitation(invitation_id: IdPath, session: Session, principal: OrgsWriteAdmin) -> Deleted:
    await invitations.cancel_invitation(session=session, principal=principal, invitation_id=invitation_id)
    return Deleted(deleted=True)


@public.post(
    "/accept", response_model=AcceptedEnvelope, responses=error_responses("openrouter", 400, 401, 409)
)
async def accept_invitation(body: AcceptBody, request: Request, session: Session) -> AcceptedEnvelope:
    """Join the invited org: a new account with this password, or an existing one with its password."""
    accepted = await invitations.accept_invitation(
        session=session,
        token=body.token,
        password=body.password,
        name=body.name,
        ip_address=client_ip(request),
    )
    return AcceptedEnvelope(
        data=AcceptedOut(
            user_id=accepted.user_id, org_id=accepted.org_id, role=accepted.role, email=accepted.email
        )
    )
