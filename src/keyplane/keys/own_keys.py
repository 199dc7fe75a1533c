"""Management keys a logged-in user manages for themself, by key id: a per-user cap of active keys.

Keys are the user's own: another user's key id is a 404, also for org admins, and so is a key of
an org the user is no longer a member of. An org-level key (reach "org") needs the org's admin or
owner; a personal key (reach "user") lives in the user's first org and sees only its user's objects.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import BALANCE_READ, USAGE_READ
from keyplane.keys import lifecycle, rotation
from keyplane.keys import service as keys
from keyplane.keys.caps import KeyCaps, check_active_key_cap, check_user_key_cap, lock_membership
from keyplane.keys.schemas import KeyCreate, KeyUpdate, OwnKeyCreate, OwnKeyUpdate
from keyplane.keys.validation import check_known_scopes, clean_name
from keyplane.models import ApiKey, Membership
from keyplane.models.base import utcnow
from keyplane.models.membership import ADMIN_ROLES

DEFAULT_SCOPES = (BALANCE_READ, USAGE_READ)
OWN_KEY_NAME_MAX = 100


def _clean_name(name: str) -> str:
    cleaned = clean_name(name)
    if len(cleaned) > OWN_KEY_NAME_MAX:
        raise BadRequest(f"name must be at most {OWN_KEY_NAME_MAX} characters")
    return cleaned


def _clean_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise BadRequest(f"scopes must list at least one scope, e.g. {', '.join(DEFAULT_SCOPES)}")
    return check_known_scopes(scopes)


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


async def create_own_key(
    *, session: AsyncSession, user: Principal, params: OwnKeyCreate, caps: KeyCaps
) -> tuple[ApiKey, str]:
    """Issue a management key for the user; the plaintext is returned once."""
    user_id = _user(user)
    name = _clean_name(params.name)
    scopes = _clean_scopes(params.scopes) if params.scopes is not None else list(DEFAULT_SCOPES)
    membership = await _target_membership(session, user_id, params.org_id)
    await check_active_key_cap(
        session,
        org_id=membership.org_id,
        user_id=user_id,
        kind="management",
        cap=caps.per_user("management"),
    )
    return await keys.create_key(
        session=session,
        principal=_as_member(user, membership.org_id, membership.role),
        params=KeyCreate(
            name=name,
            kind="management",
            description=params.description,
            expires_at=params.expires_at,
            scopes=scopes,
            reach="org" if params.org_id is not None else "user",
        ),
        default_org_cap=caps.per_org,
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


async def list_own_keys(*, session: AsyncSession, user: Principal) -> list[ApiKey]:
    """The user's management keys in every org they belong to, newest first, whatever their status."""
    query = _own_keys(user).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list((await session.execute(query)).scalars())


async def _find_own_key(session: AsyncSession, user: Principal, key_id: str) -> tuple[ApiKey, Principal]:
    """The key and the user acting in its org with their current role; 404 once they left the org."""
    row = (await session.execute(_own_keys(user).where(ApiKey.id == key_id))).first()
    if row is None:
        raise NotFound("API key not found")
    key, role = row
    return key, _as_member(user, key.org_id, role)


def _is_expired(key: ApiKey) -> bool:
    return key.expires_at is not None and key.expires_at <= utcnow()


async def update_own_key(
    *, session: AsyncSession, user: Principal, key_id: str, params: OwnKeyUpdate, caps: KeyCaps
) -> ApiKey:
    """Apply the fields sent (expires_at None: never); extending an expired key counts it again."""
    sent = params.model_fields_set
    key, member = await _find_own_key(session, user, key_id)
    changes: dict[str, object] = {}
    if "name" in sent and params.name is not None:
        changes["name"] = _clean_name(params.name)
    if "description" in sent:
        changes["description"] = params.description
    if "scopes" in sent and params.scopes is not None:
        changes["scopes"] = _clean_scopes(params.scopes)
    if "expires_at" in sent:
        changes["expires_at"] = params.expires_at
        if not key.revoked and not key.disabled and _is_expired(key):
            await check_user_key_cap(session, key=key, user_id=_user(user), cap=caps.per_user(key.kind))
    if not changes:
        return key
    return await keys.update_key(
        session=session,
        principal=member,
        key_hash=key.hash,
        params=KeyUpdate.model_validate(changes),
    )


async def delete_own_key(*, session: AsyncSession, user: Principal, key_id: str) -> ApiKey:
    key, member = await _find_own_key(session, user, key_id)
    await keys.remove_key(session=session, principal=member, key=key)
    return key


async def revoke_own_key(*, session: AsyncSession, user: Principal, key_id: str) -> ApiKey:
    """Stops the key at once; revoking a revoked key changes nothing."""
    key, member = await _find_own_key(session, user, key_id)
    if key.revoked:
        return key
    return await lifecycle.revoke_key(session=session, principal=member, key=key)


async def restore_own_key(*, session: AsyncSession, user: Principal, key_id: str, caps: KeyCaps) -> ApiKey:
    """Makes a revoked (or disabled) key work again, within the active-key cap and the keys
    service's rules (org-level keys and keys an admin disabled need an admin); restoring a key
    that works changes nothing."""
    key, member = await _find_own_key(session, user, key_id)
    if not key.revoked and not key.disabled:
        return key
    lifecycle.require_may_restore(member, key)
    if key.revoked and not _is_expired(key):
        await check_user_key_cap(session, key=key, user_id=_user(user), cap=caps.per_user(key.kind))
    return await lifecycle.restore_key(
        session=session, principal=member, key=key, default_org_cap=caps.per_org
    )


async def rotate_own_key(
    *, session: AsyncSession, user: Principal, key_id: str, grace_seconds: int
) -> tuple[ApiKey, str]:
    """A new secret for one of the user's management keys; the old one works for `grace_seconds`."""
    key, member = await _find_own_key(session, user, key_id)
    return await rotation.rotate_key(session=session, principal=member, key=key, grace_seconds=grace_seconds)
