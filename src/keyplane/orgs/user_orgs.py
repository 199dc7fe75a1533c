"""The orgs a signed-in user belongs to, with names and roles: the dashboard's org switcher."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import Membership, Organization


@dataclass(frozen=True, slots=True)
class UserOrg:
    org_id: str
    name: str
    role: str
    suspended: bool


async def orgs_of_user(*, session: AsyncSession, user_id: str) -> list[UserOrg]:
    """Every membership of the user, oldest org first (the operator's, when a member, leads)."""
    rows = (
        await session.execute(
            select(Organization.id, Organization.name, Membership.role, Organization.status)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.created_at, Organization.id)
        )
    ).all()
    return [UserOrg(org_id, name, role, status == "suspended") for org_id, name, role, status in rows]
