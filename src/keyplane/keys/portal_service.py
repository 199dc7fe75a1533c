"""Management keys a logged-in user manages for themself (portal, seed 002): 10 active per user per org.

Keys are the user's own: another user's key id is a 404, also for org admins, and so is a key of
an org the user is no longer a member of. An org-level key (reach "org") needs the org's admin or
owner; a personal key (reach "user") lives in the user's first org and sees only its user's objects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import ALL_SCOPES, BALANCE_READ, USAGE_READ
from keyplane.keys import service as keys
from keyplane.keys.caps import check_active_key_cap, lock_membership
from keyplane.keys.portal_schemas import PORTAL_NAME_MAX, PortalKeyCreate, PortalKeyUpdate
from keyplane.keys.schemas import KeyCreate, KeyUpdate
from keyplane.keys.validation import check_scopes, clean_name
from keyplane.models import ApiKey, Membership
from keyplane.models.base import utcnow
from keyplane.models.membership import ADMIN_ROLES

DEFAULT_SCOPES = (BALANCE_READ, USAGE_READ)
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def portal_status(key: ApiKey, now: datetime) -> str:
    """active, revoked (also a disabled key: both stop it) or expired."""
    if key.revoked or key.disabled:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def expiry_from_unix(value: int) -> datetime | None:
    """0 means never; anything else must be a Unix second in the future."""
    if value == 0:
        return None
    if not 0 < value <= MAX_UNIX_SECONDS:
        raise BadRequest("expires_at must be 0 (never) or a Unix timestamp in seconds")
    expires_at = datetime.fromtimestamp(value, UTC)
    if expires_at <= utcnow():
        raise BadRequest("expires_at must be in the future (or 0 for never)")
    return expires_at


def _clean_name(name: str) -> str:
    cleaned = clean_name(name)
    if len(cleaned) > PORTAL_NAME_MAX:
        raise BadRequest(f"name must be at most {PORTAL_NAME_MAX} characters")
    return cleaned


def _clean_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise BadRequest(f"scopes must list at least one scope, e.g. {', '.join(DEFAULT_SCOPES)}")
    cleaned = check_scopes(scopes)
    for scope in cleaned:
        if scope not in ALL_SCOPES:
            raise BadRequest(
                f"Unknown scope '{scope}'; known scopes: {', '.join(ALL_SCOPES)}", code="unknown_scope"
            )
    return cleaned


def _user(principal: Principal) -> str:
    assert principal.kind == "user" and principal.user_id is not None, "a user session is required"
    return principal.user_id


def _as_member(user: Principal, key_or_org: str, role: str | None = None) -> Principal:
    """The user acting inside one org, for the shared key service and its audit trail."""
    return Principal(
        kind="user", user_id=user.user_id, org_id=key_or_org, role=role, ip_address=user.ip_address
    )


async def _target_membership(session: AsyncSession, user_id: str, org_id: str | None) -> Membership:
    if org_id is not None:
        membership = await lock_membership(session, org_id=org_id, user_id=user_id)
        if membership is None:
            raise NotFound("Organization not found")
        if membership.role not in ADMIN_ROLES:
            raise Forbidden(
                "Only organization admins can create organization-level keys", code="admin_required"
            )
        return membership
    first = (
        await session.execute(
            select(Membership.org_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.created_at, Membership.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if first is None:
        raise Forbidden("You are not a member of any organization", code="not_member")
    membership = await lock_membership(session, org_id=first, user_id=user_id)
    assert membership is not None
    return membership


async def create_portal_key(
    *, session: AsyncSession, user: Principal, params: PortalKeyCreate, cap: int, default_org_cap: int
) -> tuple[ApiKey, str]:
    """Issue an sk_mg_ key; the plaintext is returned once."""
    user_id = _user(user)
    name = _clean_name(params.name)
    expires_at = expiry_from_unix(params.expires_at)
    scopes = _clean_scopes(params.scopes) if params.scopes is not None else list(DEFAULT_SCOPES)
    membership = await _target_membership(session, user_id, params.org_id)
    await check_active_key_cap(session, org_id=membership.org_id, user_id=user_id, kind="management", cap=cap)
    return await keys.create_key(
        session=session,
        principal=_as_member(user, membership.org_id, membership.role),
        params=KeyCreate(
            name=name,
            kind="management",
            description=params.description,
            expires_at=expires_at,
            scopes=scopes,
            reach="org" if params.org_id is not None else "user",
        ),
        default_org_cap=default_org_cap,
    )


def _own_keys(user: Principal) -> Select[ApiKey, str]:
    """The user's management keys in the orgs they are a member of now, with their role there."""
    return (
        select(ApiKey, Membership.role)
        .join(
            Membership,
            and_(Membership.org_id == ApiKey.org_id, Membership.user_id == ApiKey.creator_user_id),
        )
        .where(ApiKey.creator_user_id == _user(user), ApiKey.kind == "management")
    )


async def list_portal_keys(*, session: AsyncSession, user: Principal) -> list[ApiKey]:
    """The user's management keys in every org they belong to, newest first, whatever their status."""
    query = _own_keys(user).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list((await session.execute(query)).scalars())


async def _find_portal_key(session: AsyncSession, user: Principal, key_id: str) -> tuple[ApiKey, Principal]:
    """The key and the user acting in its org with their current role; 404 once they left the org."""
    row = (await session.execute(_own_keys(user).where(ApiKey.id == key_id))).first()
    if row is None:
        raise NotFound("API key not found")
    key, role = row
    return key, _as_member(user, key.org_id, role)


async def update_portal_key(
    *, session: AsyncSession, user: Principal, key_id: str, params: PortalKeyUpdate, cap: int
) -> ApiKey:
    sent = params.model_fields_set
    for field in sent:
        if getattr(params, field) is None:
            raise BadRequest(f"{field} must not be null")
    key, member = await _find_portal_key(session, user, key_id)
    changes: dict[str, object] = {}
    if "name" in sent and params.name is not None:
        changes["name"] = _clean_name(params.name)
    if "description" in sent:
        changes["description"] = params.description
    if "scopes" in sent and params.scopes is not None:
        changes["scopes"] = _clean_scopes(params.scopes)
    if "expires_at" in sent and params.expires_at is not None:
        changes["expires_at"] = expiry_from_unix(params.expires_at)
        now = utcnow()
        if portal_status(key, now) == "expired":  # extending an expired key makes it active again
            await _check_cap_for(session, user, key, cap)
    if not changes:
        return key
    return await keys.update_key(
        session=session,
        principal=member,
        key_hash=key.hash,
        params=KeyUpdate.model_validate(changes),
    )


async def _check_cap_for(session: AsyncSession, user: Principal, key: ApiKey, cap: int) -> None:
    user_id = _user(user)
    await lock_membership(session, org_id=key.org_id, user_id=user_id)
    await check_active_key_cap(session, org_id=key.org_id, user_id=user_id, kind="management", cap=cap)


async def delete_portal_key(*, session: AsyncSession, user: Principal, key_id: str) -> ApiKey:
    key, member = await _find_portal_key(session, user, key_id)
    await keys.remove_key(session=session, principal=member, key=key)
    return key


async def revoke_portal_key(*, session: AsyncSession, user: Principal, key_id: str) -> ApiKey:
    """Stops the key at once; revoking a revoked key changes nothing."""
    key, member = await _find_portal_key(session, user, key_id)
    if key.revoked:
        return key
    return await keys.revoke_key(session=session, principal=member, key=key)


async def restore_portal_key(
    *, session: AsyncSession, user: Principal, key_id: str, cap: int, default_org_cap: int
) -> ApiKey:
    """Makes a revoked (or disabled) key work again, within the active-key cap and the keys
    service's rules (org-level keys and keys an admin disabled need an admin)."""
    key, member = await _find_portal_key(session, user, key_id)
    if not key.revoked and not key.disabled:
        return key
    keys.require_may_restore(member, key)
    if key.revoked and (key.expires_at is None or key.expires_at > utcnow()):
        await _check_cap_for(session, user, key, cap)
    return await keys.restore_key(session=session, principal=member, key=key, default_org_cap=default_org_cap)
