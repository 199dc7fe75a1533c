"""The caller's own organization: read by any of its keys, renamed by admins (orgs:write)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.permissions import require_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ORGS_WRITE
from keyplane.models import Organization
from keyplane.models.base import utcnow


async def current_organization(*, session: AsyncSession, principal: Principal) -> Organization:
    org = await session.get(Organization, principal.require_org())
    if org is None:
        raise NotFound("Organization not found")
    return org


async def rename_organization(*, session: AsyncSession, principal: Principal, name: str) -> Organization:
    require_admin(principal, ORGS_WRITE)
    org = await current_organization(session=session, principal=principal)
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest("Organization name must be 1-200 characters")
    previous, org.name = org.name, name
    org.updated_at = utcnow()
    await session.flush()
    await audit.record(session, principal, "organization.updated", org, name=name, previous_name=previous)
    return org
