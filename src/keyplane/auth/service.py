"""Turns a bearer token into a Principal, refusing unknown, revoked, disabled and expired keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.passwords import verify_password
from keyplane.auth.sessions import decode_session_token, looks_like_jwt
from keyplane.auth.tokens import hash_key, key_kind_of
from keyplane.errors import Forbidden, Unauthorized
from keyplane.kernel.principal import Principal
from keyplane.models import ApiKey, Membership, Organization, User
from keyplane.models.base import utcnow

LAST_USED_RESOLUTION = timedelta(seconds=1)


class KeyState(Protocol):
    """The columns that decide whether a key may be used: the ORM row and the gateway's cached copy."""

    @property
    def revoked(self) -> bool: ...
    @property
    def disabled(self) -> bool: ...
    @property
    def expires_at(self) -> datetime | None: ...


def key_refusal(key: KeyState, now: datetime) -> str | None:
    """Why a key may not be used right now, or None when it may."""
    if key.revoked:
        return "API key revoked"
    if key.disabled:
        return "API key disabled"
    if key.expires_at is not None and key.expires_at <= now:
        return "API key expired"
    return None


def rotated_secret_refusal(previous_expires_at: datetime | None, now: datetime) -> str | None:
    """A key's secret before its last rotation works until previous_key_expires_at, then never."""
    if previous_expires_at is None or previous_expires_at <= now:
        return "API key rotated: this secret's grace period is over"
    return None


def by_previous_secret(key_hash: str, now: datetime) -> ColumnElement[bool]:
    """The key whose secret before rotation hashes to `key_hash` and still works (looked up on a miss)."""
    return and_(ApiKey.previous_hash == key_hash, ApiKey.previous_key_expires_at > now)


async def key_of_secret(session: AsyncSession, key_hash: str, now: datetime) -> ApiKey | None:
    """The key with this current secret, else the one whose previous secret it is, in its grace."""
    found = (await session.execute(select(ApiKey).where(ApiKey.hash == key_hash))).scalar_one_or_none()
    if found is None:
        statement = select(ApiKey).where(by_previous_secret(key_hash, now))
        found = (await session.execute(statement)).scalar_one_or_none()
    return found


async def authenticate_bearer(
    token: str, *, session: AsyncSession, secret: str, ip_address: str | None = None
) -> Principal:
    """Resolve any bearer token keyplane accepts; raise Unauthorized with a precise reason."""
    kind = key_kind_of(token)
    if kind is not None:
        return await authenticate_key(token, session=session, ip_address=ip_address)
    if looks_like_jwt(token):
        claims = decode_session_token(token, secret=secret)
        user = await session.get(User, claims.user_id)
        if user is None:
            raise Unauthorized("Unknown user", code="invalid_token")
        await _refuse_if_only_suspended(session, user.id)
        return Principal(kind="user", user_id=user.id, ip_address=ip_address)
    raise Unauthorized("Invalid API key format", code="invalid_key_format")


async def authenticate_key(
    plaintext: str, *, session: AsyncSession, ip_address: str | None = None
) -> Principal:
    now = utcnow()
    key_hash = hash_key(plaintext)
    key = await key_of_secret(session, key_hash, now)
    if key is None:
        raise Unauthorized("API key not found", code="key_not_found")
    refusal = key_refusal(key, now)
    if refusal is None and key.hash != key_hash:
        refusal = rotated_secret_refusal(key.previous_key_expires_at, now)
    if refusal is not None:
        raise Unauthorized(refusal, code="key_refused")
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
    status, operator_id = (
        await session.execute(
            select(Organization.status, OPERATOR_ORG_ID.scalar_subquery()).where(
                Organization.id == key.org_id
            )
        )
    ).one()
    if status == "suspended":
        raise OrganizationSuspended()
    role = await member_role(session, org_id=key.org_id, user_id=key.creator_user_id)
    return Principal(
        kind="management_key" if key.is_management else "inference_key",
        user_id=key.creator_user_id,
        org_id=key.org_id,
        role=role,
        api_key=key,
        ip_address=ip_address,
        is_operator=key.org_id == operator_id,
    )


class OrganizationSuspended(Forbidden):
    """The caller's organization is suspended by the operator: nothing of it answers until resumed."""

    code = "organization_suspended"

    def __init__(self) -> None:
        super().__init__("This organization is suspended", code=self.code)


OPERATOR_ORG_ID = select(Organization.id).order_by(Organization.created_at, Organization.id).limit(1)


async def operator_org_id(session: AsyncSession) -> str | None:
    """The first organization created: its admins run the platform."""
    return (await session.execute(OPERATOR_ORG_ID)).scalar_one_or_none()


async def _refuse_if_only_suspended(session: AsyncSession, user_id: str) -> None:
    """A session whose every org is suspended gets nothing; one active org keeps the user in."""
    statuses = (
        (
            await session.execute(
                select(Organization.status)
                .join(Membership, Membership.org_id == Organization.id)
                .where(Membership.user_id == user_id)
            )
        )
        .scalars()
        .all()
    )
    if statuses and all(status == "suspended" for status in statuses):
        raise OrganizationSuspended()


async def member_role(session: AsyncSession, *, org_id: str, user_id: str | None) -> str | None:
    if user_id is None:
        return None
    return (
        await session.execute(
            select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id)
        )
    ).scalar_one_or_none()


async def authenticate_password(session: AsyncSession, *, email: str, password: str) -> User:
    """Check credentials in constant-ish time whether or not the email exists."""
    user = (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("Invalid email or password", code="invalid_credentials")
    return user
