"""A user's own keys addressed by name through one of their management keys: unique names per user,
per-user caps by kind, no self-delete."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import KEYS_READ, KEYS_WRITE, require_scope
from keyplane.keys import service as keys
from keyplane.keys.caps import KeyCaps, check_active_key_cap, lock_membership
from keyplane.keys.repository import ApiKeyRepository
from keyplane.keys.schemas import KeyCreate
from keyplane.keys.validation import clean_name
from keyplane.models import ApiKey


def owner_of(principal: Principal) -> str:
    """The user a key acts for; a key whose creator was deleted has nobody to act for."""
    if principal.user_id is None:
        raise Forbidden("This key has no owning user", code="no_owner")
    return principal.user_id


async def list_user_keys(*, session: AsyncSession, principal: Principal) -> list[ApiKey]:
    """All keys the calling key's user created in its org, oldest first."""
    require_scope(principal, KEYS_READ)
    user_id = owner_of(principal)
    keys = ApiKeyRepository(session, principal.require_org())
    return list(await keys.list(keys.of_creator(user_id).order_by(ApiKey.created_at, ApiKey.id)))


async def _keys_named(session: AsyncSession, principal: Principal, user_id: str, name: str) -> list[ApiKey]:
    keys = ApiKeyRepository(session, principal.require_org())
    return list(await keys.list(keys.of_creator(user_id).where(ApiKey.name == name)))


async def create_named_key(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    management: bool,
    caps: KeyCaps,
) -> tuple[ApiKey, str]:
    """A new key for the caller's user in the caller's workspace; a management key never gets
    more reach or scopes than the key that creates it."""
    require_scope(principal, KEYS_WRITE)
    user_id = owner_of(principal)
    org_id = principal.require_org()
    caller = principal.require_key()
    if await lock_membership(session, org_id=org_id, user_id=user_id) is None:
        raise Forbidden("The key's user is no longer a member of this organization", code="not_member")
    cleaned = clean_name(name)
    if await _keys_named(session, principal, user_id, cleaned):
        raise BadRequest(f"An API key named '{cleaned}' already exists", code="duplicate_name")
    kind = "management" if management else "inference"
    await check_active_key_cap(session, org_id=org_id, user_id=user_id, kind=kind, cap=caps.per_user(kind))
    params = KeyCreate(
        name=cleaned,
        kind=kind,
        workspace_id=caller.workspace_id,
        scopes=list(caller.scopes or []) if management else [],
        # The reach the caller holds now (a demoted admin's org-level key holds only user reach).
        reach=("org" if principal.is_org_reach else "user") if management else "org",
    )
    return await keys.create_key(
        session=session, principal=principal, params=params, default_org_cap=caps.per_org
    )


async def delete_named_key(*, session: AsyncSession, principal: Principal, name: str) -> ApiKey:
    """Delete one of the user's keys by name (its budgets go by cascade); never the calling key."""
    require_scope(principal, KEYS_WRITE)
    user_id = owner_of(principal)
    found = await _keys_named(session, principal, user_id, name.strip())
    if not found:
        raise NotFound(f"API key '{name.strip()[:256]}' not found")
    if len(found) > 1:
        raise BadRequest(
            f"{len(found)} API keys are named '{name.strip()}'; delete them by hash at /api/v1/keys/{{hash}}",
            code="ambiguous_name",
        )
    key = found[0]
    if key.id == principal.require_key().id:
        raise BadRequest(
            "You cannot delete the management key used to authenticate this request", code="key_in_use"
        )
    await keys.remove_key(session=session, principal=principal, key=key)
    return key
