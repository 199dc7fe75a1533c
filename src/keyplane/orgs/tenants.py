"""Tenant orgs, run by the operator: create with an owner invitation, list, rename, suspend, resume.

Only owners/admins of the operator org (the first one) reach these; a tenant gets 403 and learns
nothing about other orgs. Suspension deletes nothing: authentication refuses the org's keys and
sessions while it lasts (keyplane.auth.service), and the gateway's key cache drops them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, Conflict, Forbidden, NotFound
from keyplane.kernel.permissions import require_any_scope, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ORGS_READ, ORGS_WRITE
from keyplane.models import Organization, Workspace
from keyplane.models.base import utcnow
from keyplane.models.organization import ORG_STATUSES
from keyplane.orgs.invitations import IssuedInvitation, issue_invitation
from keyplane.orgs.service import create_organization
from keyplane.workspaces.service import default_workspace

MAX_ORGS_PAGE = 500
MAX_KEY_CAP = 1_000_000


@dataclass(frozen=True, slots=True)
class Tenant:
    org: Organization
    default_workspace_id: str


def _require_operator(principal: Principal, scope: str) -> None:
    require_operator_admin(principal, "Organizations other than your own")
    require_any_scope(principal, scope, ORGS_WRITE)


async def create_tenant(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    owner_email: str,
    ttl_hours: int,
    owner_name: str = "",
) -> tuple[Tenant, IssuedInvitation]:
    """A new org with its default workspace and an owner invitation (its token shown once)."""
    _require_operator(principal, ORGS_WRITE)
    org, workspace = await create_organization(session=session, name=name)
    invitation = await issue_invitation(
        session=session,
        principal=principal.acting_in(org.id),
        email=owner_email,
        role="owner",
        ttl_hours=ttl_hours,
        name=owner_name,
    )
    await audit.record(
        session,
        principal,
        "organization.created",
        org,
        org_id=principal.org_id,
        name=org.name,
        owner_email=invitation.invitation.email,
    )
    return Tenant(org, workspace.id), invitation


async def list_tenants(
    *, session: AsyncSession, principal: Principal, page: int, page_size: int, status: str | None = None
) -> tuple[list[Tenant], int]:
    """Every org, oldest first (the operator's own first), one page; with the total count."""
    _require_operator(principal, ORGS_READ)
    conditions = [] if status is None else [Organization.status == _status(status)]
    total = int(
        (
            await session.execute(select(func.count()).select_from(Organization).where(*conditions))
        ).scalar_one()
    )
    query = (
        select(Organization, Workspace.id)
        .join(Workspace, (Workspace.org_id == Organization.id) & Workspace.is_default.is_(True))
        .where(*conditions)
        .order_by(Organization.created_at, Organization.id)
        .offset((page - 1) * page_size)
        .limit(min(page_size, MAX_ORGS_PAGE))
    )
    rows = (await session.execute(query)).all()
    return [Tenant(org, str(workspace_id)) for org, workspace_id in rows], total


async def get_tenant(*, session: AsyncSession, principal: Principal, org_id: str) -> Tenant:
    _require_operator(principal, ORGS_READ)
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found")
    return Tenant(org, (await default_workspace(session=session, org_id=org.id)).id)


def _status(value: str) -> str:
    if value not in ORG_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(ORG_STATUSES)}")
    return value


async def update_tenant(
    *,
    session: AsyncSession,
    principal: Principal,
    org_id: str,
    name: str | None = None,
    status: str | None = None,
    max_api_keys: int | None = None,
    clear_max_api_keys: bool = False,
) -> Tenant:
    """Rename, suspend/resume or re-cap an org; the operator org itself cannot be suspended."""
    tenant = await get_tenant(session=session, principal=principal, org_id=org_id)
    require_operator_admin(principal, "Organizations", ORGS_WRITE)
    org, changes = tenant.org, dict[str, object]()
    if name is not None:
        cleaned = name.strip()
        if not 1 <= len(cleaned) <= 200:
            raise BadRequest("Organization name must be 1-200 characters")
        if cleaned != org.name:
            changes["name"], org.name = cleaned, cleaned
    if status is not None and _status(status) != org.status:
        if status == "suspended" and org.id == principal.org_id:
            raise Conflict("The operator organization cannot suspend itself", code="operator_org")
        changes["status"], org.status = status, status
    if clear_max_api_keys or max_api_keys is not None:
        if max_api_keys is not None and not 0 <= max_api_keys <= MAX_KEY_CAP:
            raise BadRequest(f"max_api_keys must be between 0 and {MAX_KEY_CAP}")
        if max_api_keys != org.max_api_keys:
            changes["max_api_keys"], org.max_api_keys = max_api_keys, max_api_keys
    if not changes:
        return tenant
    org.updated_at = utcnow()
    await session.flush()
    action = {"suspended": "organization.suspended", "active": "organization.resumed"}.get(
        str(changes.get("status")), "organization.updated"
    )
    await audit.record(
        session, principal, action, org, org_id=principal.org_id, named_details={"org_id": org.id}, **changes
    )
    return tenant


async def reading_as(*, session: AsyncSession, principal: Principal, org_id: str | None) -> Principal:
    """The principal a read of `org_id` runs as: the caller itself, or the operator inside a tenant.

    From a tenant, any org_id but its own is a 403 (never its own data instead, never a hint of
    whether the org exists); an operator admin gets 404 for an unknown org.
    """
    if org_id is None or org_id == principal.org_id:
        return principal
    if not principal.is_operator_admin:
        raise Forbidden(
            "org_id names another organization; only the operator reads other orgs",
            code="platform_admin_required",
        )
    if await session.get(Organization, org_id) is None:
        raise NotFound("Organization not found")
    return principal.acting_in(org_id, role=principal.role)
