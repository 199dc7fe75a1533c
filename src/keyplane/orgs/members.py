"""Members of the caller's org: admins (orgs:write) re-role and remove (people join by invitation).

Only an owner may grant, change or take away the owner role, and the last owner can neither be
demoted nor removed, so an org is never left without someone who can manage it. Removing a member
revokes the API keys of every kind they created in the org: an offboarded person's keys stop working
at once, and only an admin can bring one back should they rejoin.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import Conflict, NotFound
from keyplane.kernel.permissions import require_admin, require_any_scope
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ORGS_READ, ORGS_WRITE
from keyplane.kernel.writes import delete_once
from keyplane.keys.service import revoke_member_keys
from keyplane.models import Membership, Organization, User
from keyplane.orgs.repository import MembershipRepository
from keyplane.orgs.service import check_role, require_owner_for

MAX_MEMBERS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Member:
    membership: Membership
    user: User


async def list_members(*, session: AsyncSession, principal: Principal) -> list[Member]:
    require_admin(principal)
    require_any_scope(principal, ORGS_READ, ORGS_WRITE)  # the list is every person's email
    query = (
        MembershipRepository.of(session, principal)
        .select_with(User)
        .join(User, User.id == Membership.user_id)
        .order_by(Membership.created_at, Membership.id)
        .limit(MAX_MEMBERS_PAGE)
    )
    return [Member(m, u) for m, u in (await session.execute(query)).all()]


async def get_member(*, session: AsyncSession, org_id: str, user_id: str) -> Member:
    query = (
        MembershipRepository(session, org_id)
        .select_with(User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.user_id == user_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("Member not found")
    return Member(row[0], row[1])


async def _owner_count(session: AsyncSession, org_id: str) -> int:
    """The org's owners, counted with its row locked (a no-op UPDATE, on SQLite too): two owners
    demoting or removing each other at once cannot both pass the last-owner check."""
    await session.execute(
        update(Organization).where(Organization.id == org_id).values(updated_at=Organization.updated_at)
    )
    repository = MembershipRepository(session, org_id)
    return await repository.count(repository.select().where(Membership.role == "owner"))


async def change_role(*, session: AsyncSession, principal: Principal, user_id: str, role: str) -> Member:
    require_admin(principal, ORGS_WRITE)
    org_id = principal.require_org()
    role = check_role(role)
    member = await get_member(session=session, org_id=org_id, user_id=user_id)
    previous = member.membership.role
    if previous == role:
        return member
    require_owner_for(principal, role, previous)
    if previous == "owner" and await _owner_count(session, org_id) <= 1:
        raise Conflict("The last owner cannot be demoted; make another member owner first")
    member.membership.role = role
    await session.flush()
    await audit.record(
        session,
        principal,
        "member.role_changed",
        audit.Target("member", user_id, org_id),
        role=role,
        previous_role=previous,
    )
    return member


async def remove_member(*, session: AsyncSession, principal: Principal, user_id: str) -> Member:
    require_admin(principal, ORGS_WRITE)
    org_id = principal.require_org()
    member = await get_member(session=session, org_id=org_id, user_id=user_id)
    require_owner_for(principal, member.membership.role)
    if member.membership.role == "owner" and await _owner_count(session, org_id) <= 1:
        raise Conflict("The last owner cannot be removed")
    role = member.membership.role
    if not await delete_once(session, member.membership):
        raise NotFound("Member not found")  # a concurrent removal won
    revoked = await revoke_member_keys(session=session, org_id=org_id, user_id=user_id)
    await audit.record(
        session,
        principal,
        "member.removed",
        audit.Target("member", user_id, org_id),
        email=member.user.email,
        role=role,
        keys_revoked=revoked,
    )
    return member
