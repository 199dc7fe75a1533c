"""Tenants and people: every org gets a default workspace; emails are unique and lower-cased."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.passwords import hash_password
from keyplane.errors import BadRequest, Conflict, Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.kernel.writes import flush_or_conflict
from keyplane.models import Membership, Organization, User, Workspace
from keyplane.models.membership import ROLES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


async def create_organization(*, session: AsyncSession, name: str) -> tuple[Organization, Workspace]:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest("Organization name must be 1-200 characters")
    org = Organization(name=name)
    session.add(org)
    await session.flush()
    workspace = Workspace(org_id=org.id, name="Default", is_default=True)
    session.add(workspace)
    await session.flush()
    return org, workspace


def normalize_email(email: str) -> str:
    """Lower-cased and trimmed; a 400 unless it looks like an address."""
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise BadRequest("A valid email address is required")
    return email


async def create_user(*, session: AsyncSession, email: str, password: str, name: str = "") -> User:
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    existing = (await session.execute(select(User.id).where(User.email == email))).first()
    if existing is not None:
        raise Conflict("A user with this email already exists")
    user = User(email=email, password_hash=hash_password(password), name=name.strip())
    session.add(user)
    await flush_or_conflict(session, "A user with this email already exists")  # created concurrently
    return user


async def add_member(*, session: AsyncSession, org_id: str, user_id: str, role: str) -> Membership:
    if role not in ROLES:
        raise BadRequest(f"Unknown role '{role}'; expected one of {', '.join(ROLES)}")
    membership = Membership(org_id=org_id, user_id=user_id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def memberships_of(*, session: AsyncSession, user_id: str) -> list[Membership]:
    return list((await session.execute(select(Membership).where(Membership.user_id == user_id))).scalars())


async def existing_org_id(session: AsyncSession, org_id: str) -> str:
    """The id of an existing organization, or a 404 that does not say more."""
    if await session.get(Organization, org_id) is None:
        raise NotFound("Organization not found")
    return org_id


def check_role(role: str) -> str:
    """One of owner, admin, member; a 400 naming the choices otherwise."""
    if role not in ROLES:
        raise BadRequest(f"Unknown role '{role[:40]}'; expected one of {', '.join(ROLES)}")
    return role


def require_owner_for(principal: Principal, *roles: str | None) -> None:
    """Only an owner may grant, change or take away the owner role (the system principal may too)."""
    if "owner" in roles and not principal.is_system and principal.role != "owner":
        raise Forbidden("Only an owner may grant, change or remove the owner role", code="owner_required")
