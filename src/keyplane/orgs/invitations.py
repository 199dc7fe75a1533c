"""Invitations: how a person joins an org without anyone learning whether their account exists.

The token is shown once, stored as its sha256, valid for KEYPLANE_INVITATION_TTL_HOURS and single
use (a conditional UPDATE picks one winner). An email has at most one open invitation per org (a
unique index; an expired one is replaced). Accepting with a new email creates the user with the
given password; an email that already has an account must give that account's password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.auth.passwords import verify_password
from keyplane.auth.tokens import hash_key
from keyplane.errors import BadRequest, Conflict, NotFound, Unauthorized
from keyplane.kernel.permissions import require_admin, require_any_scope
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ORGS_READ, ORGS_WRITE
from keyplane.kernel.writes import delete_once, flush_or_conflict
from keyplane.models import Invitation, Membership, Organization, User
from keyplane.models.base import utcnow
from keyplane.orgs.repository import InvitationRepository, MembershipRepository
from keyplane.orgs.service import check_role, create_user, normalize_email, require_owner_for

TOKEN_PREFIX = "kp_inv_"
MAX_OPEN_INVITATIONS = 1000


class InvalidInvitation(BadRequest):
    """Unknown, used, cancelled and expired tokens all answer this, so none can be told apart."""

    code = "invalid_invitation"

    def __init__(self) -> None:
        super().__init__("This invitation is invalid, already used or expired", code=self.code)


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # the plaintext: returned once, never stored


@dataclass(frozen=True, slots=True)
class Accepted:
    user_id: str
    org_id: str
    role: str
    email: str


async def issue_invitation(
    *, session: AsyncSession, principal: Principal, email: str, role: str, ttl_hours: int, name: str = ""
) -> IssuedInvitation:
    """Write an invitation into principal's org; callers have checked who may invite."""
    org_id = principal.require_org()
    token = TOKEN_PREFIX + secrets.token_hex(32)
    now = utcnow()
    email = normalize_email(email)
    await session.execute(  # an expired invitation no longer holds the email's place
        delete(Invitation)
        .where(
            Invitation.org_id == org_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at <= now,
        )
        .execution_options(synchronize_session=False)
    )
    invitation = Invitation(
        org_id=org_id,
        email=email,
        role=check_role(role),
        name=name.strip()[:200],
        token_hash=hash_key(token),
        invited_by_user_id=principal.user_id,
        created_at=now,
        expires_at=now + timedelta(hours=ttl_hours),
    )
    session.add(invitation)
    await flush_or_conflict(
        session,
        "This email already has an open invitation to the organization; cancel it to send a new one",
        code="already_invited",
    )
    await audit.record(
        session, principal, "invitation.created", invitation, email=invitation.email, role=invitation.role
    )
    return IssuedInvitation(invitation, token)


async def invite_member(
    *, session: AsyncSession, principal: Principal, email: str, role: str, ttl_hours: int, name: str = ""
) -> IssuedInvitation:
    """Org admins (orgs:write) invite; only an owner may invite an owner."""
    require_admin(principal, ORGS_WRITE)
    require_owner_for(principal, check_role(role))
    return await issue_invitation(
        session=session, principal=principal, email=email, role=role, ttl_hours=ttl_hours, name=name
    )


async def list_invitations(*, session: AsyncSession, principal: Principal) -> list[Invitation]:
    """The org's open (not yet accepted) invitations, newest first; expired ones included."""
    require_admin(principal)
    require_any_scope(principal, ORGS_READ, ORGS_WRITE)  # the list is every person's email
    repository = InvitationRepository.of(session, principal)
    query = (
        repository.select()
        .where(Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id)
        .limit(MAX_OPEN_INVITATIONS)
    )
    return list(await repository.list(query))


async def cancel_invitation(*, session: AsyncSession, principal: Principal, invitation_id: str) -> None:
    """Delete an open invitation of the caller's org (another org's is a 404); one winner."""
    require_admin(principal, ORGS_WRITE)
    invitation = await InvitationRepository.of(session, principal).get_or_none(invitation_id)
    if invitation is None or not invitation.is_open:
        raise NotFound("Invitation not found")
    target, email, role = audit.target_of(invitation), invitation.email, invitation.role
    if not await delete_once(session, invitation, Invitation.accepted_at.is_(None)):
        raise NotFound("Invitation not found")  # a concurrent cancel (or accept) won
    await audit.record(session, principal, "invitation.cancelled", target, email=email, role=role)


async def accept_invitation(
    *, session: AsyncSession, token: str, password: str, name: str = "", ip_address: str | None = None
) -> Accepted:
    """Join the invited org: a new account with this password, or the existing one if it matches."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise InvalidInvitation()
    now = utcnow()
    invitation = (
        await session.execute(select(Invitation).where(Invitation.token_hash == hash_key(token)))
    ).scalar_one_or_none()
    if invitation is None or not invitation.is_open or invitation.expires_at <= now:
        raise InvalidInvitation()
    org = await session.get(Organization, invitation.org_id)
    if org is None or org.is_suspended:
        raise InvalidInvitation()
    user = (await session.execute(select(User).where(User.email == invitation.email))).scalar_one_or_none()
    if user is not None and not verify_password(user.password_hash, password):
        raise Unauthorized(
            "This email already has an account: give that account's password", code="invalid_credentials"
        )
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:  # a concurrent accept won
        raise InvalidInvitation()
    if user is None:
        user = await create_user(
            session=session, email=invitation.email, password=password, name=name or invitation.name
        )
    invitation.accepted_at, invitation.accepted_user_id = now, user.id
    members = MembershipRepository(session, org.id)
    already = await members.first(members.select().where(Membership.user_id == user.id))
    if already is not None:
        raise Conflict("This account is already a member of the organization", code="already_member")
    session.add(Membership(org_id=org.id, user_id=user.id, role=invitation.role, created_at=now))
    await flush_or_conflict(
        session, "This account is already a member of the organization", code="already_member"
    )
    actor = Principal(
        kind="user", user_id=user.id, org_id=org.id, role=invitation.role, ip_address=ip_address
    )
    await audit.record(
        session, actor, "invitation.accepted", invitation, email=user.email, role=invitation.role
    )
    return Accepted(user_id=user.id, org_id=org.id, role=invitation.role, email=user.email)
