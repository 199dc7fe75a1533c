"""Key rules every surface shares: issue (plaintext once), list, get, change and delete keys of every kind.

Switching a key off and on (disable, revoke, restore: who may) is keys.lifecycle; finding a key by
hash is keys.lookup; how many keys may exist is keys.caps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.auth.tokens import generate_key, hash_key, mask_key
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.money import usd_to_nanos
from keyplane.kernel.principal import Principal
from keyplane.kernel.writes import delete_once
from keyplane.keys import rotation
from keyplane.keys.caps import check_org_key_cap
from keyplane.keys.lifecycle import set_disabled
from keyplane.keys.lookup import key_by_hash
from keyplane.keys.repository import ApiKeyRepository
from keyplane.keys.schemas import KeyCreate, KeyUpdate
from keyplane.keys.validation import (
    check_description,
    check_expiry,
    check_limit,
    check_limit_reset,
    check_max_concurrency,
    check_rate_limit,
    check_scopes,
    clean_allowed_ips,
    clean_allowed_models,
    clean_key_tags,
    clean_name,
)
from keyplane.models import ApiKey
from keyplane.models.api_key import KEY_KINDS
from keyplane.models.base import utcnow
from keyplane.workspaces.service import workspace_in_org

LIST_PAGE_SIZE = 100


async def create_key(
    *,
    session: AsyncSession,
    principal: Principal,
    params: KeyCreate,
    default_org_cap: int,
) -> tuple[ApiKey, str]:
    """Issue a key in the principal's org, within its key cap (organizations.max_api_keys, else
    `default_org_cap` = KEYPLANE_MAX_KEYS_PER_ORG); the plaintext is returned here and never again."""
    org_id = principal.require_org() if principal.org_id else None
    if org_id is None:
        raise BadRequest("No organization to create the key in")
    if params.kind not in KEY_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KEY_KINDS)}")
    name = clean_name(params.name)
    check_limit(params.limit_usd)
    check_limit_reset(params.limit_reset)
    expires_at = check_expiry(params.expires_at)
    check_rate_limit(params.rate_limit_rpm, "rate_limit_rpm")
    check_rate_limit(params.rate_limit_tpm, "rate_limit_tpm")
    check_max_concurrency(params.max_concurrency)
    allowed_ips = clean_allowed_ips(params.allowed_ips)
    tags = clean_key_tags(params.tags)
    workspace = await workspace_in_org(session=session, org_id=org_id, workspace_id=params.workspace_id)
    creator = _resolve_creator(principal, params.creator_user_id)
    await check_org_key_cap(session, org_id=org_id, default_cap=default_org_cap)

    plaintext = generate_key(params.kind)
    key = ApiKey(
        hash=hash_key(plaintext),
        kind=params.kind,
        name=name,
        description=check_description(params.description),
        label=mask_key(plaintext),
        org_id=org_id,
        workspace_id=workspace.id,
        creator_user_id=creator,
        external_user=params.external_user,
        expires_at=expires_at,
        limit_nanousd=usd_to_nanos(params.limit_usd) if params.limit_usd is not None else None,
        limit_reset=params.limit_reset,
        include_byok_in_limit=params.include_byok_in_limit,
        scopes=check_scopes(params.scopes),
        reach=params.reach if params.reach in ("org", "user") else "org",
        allowed_models=clean_allowed_models(params.allowed_models),
        rate_limit_rpm=params.rate_limit_rpm,
        rate_limit_tpm=params.rate_limit_tpm,
        allowed_ips=allowed_ips,
        tags=tags,
        max_concurrency=params.max_concurrency,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session, principal, "key.created", key, name=name, kind=key.kind, workspace_id=workspace.id
    )
    return key, plaintext


def _resolve_creator(principal: Principal, requested: str | None) -> str | None:
    """The creator is the caller's user, never a client's choice: removing that user revokes the key."""
    if requested is not None and requested != principal.user_id:
        raise BadRequest(
            "creator_user_id is set by the server to the user of the calling key; "
            "omit it or send that user's id",
            code="creator_user_id_not_allowed",
        )
    return principal.user_id


async def list_keys(
    *,
    session: AsyncSession,
    principal: Principal,
    workspace_id: str | None,
    include_disabled: bool = False,
    include_expired: bool = False,
    offset: int = 0,
    limit: int = LIST_PAGE_SIZE,
    kind: str | None = None,
    search: str | None = None,
) -> list[ApiKey]:
    """The keys the caller may see in every workspace of its org, or in the one named."""
    if offset < 0:
        raise BadRequest("offset must be 0 or more")
    if workspace_id is not None:
        await workspace_in_org(session=session, org_id=principal.require_org(), workspace_id=workspace_id)
    return await ApiKeyRepository.visible_to(session, principal).page(
        workspace_id=workspace_id,
        include_disabled=include_disabled,
        include_expired=include_expired,
        offset=offset,
        limit=limit,
        kind=kind,
        search=search,
    )


async def get_key(*, session: AsyncSession, principal: Principal, key_hash: str) -> ApiKey:
    """The key the caller may see (keys.lookup), else 404."""
    return await key_by_hash(session=session, principal=principal, key_hash=key_hash)


async def update_key(
    *, session: AsyncSession, principal: Principal, key_hash: str, params: KeyUpdate
) -> ApiKey:
    """Apply only the fields the caller sent; every change is audited with the field names."""
    key = await get_key(session=session, principal=principal, key_hash=key_hash)
    sent = params.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in sent:
        if params.name is None:
            raise BadRequest("name must not be null")
        key.name = changes["name"] = clean_name(params.name)
    if "disabled" in sent:
        if params.disabled is None:
            raise BadRequest("disabled must be true or false")
        set_disabled(principal, key, params.disabled)
        changes["disabled"], changes["disabled_by_admin"] = key.disabled, key.disabled_by_admin
    if "limit_usd" in sent:
        check_limit(params.limit_usd)
        key.limit_nanousd = usd_to_nanos(params.limit_usd) if params.limit_usd is not None else None
        changes["limit"] = params.limit_usd
    if "limit_reset" in sent:
        check_limit_reset(params.limit_reset)
        key.limit_reset = changes["limit_reset"] = params.limit_reset
    if "include_byok_in_limit" in sent:
        key.include_byok_in_limit = changes["include_byok_in_limit"] = bool(params.include_byok_in_limit)
    if "expires_at" in sent:
        key.expires_at = check_expiry(params.expires_at)
        changes["expires_at"] = key.expires_at.isoformat() if key.expires_at else None
    if "description" in sent:
        key.description = changes["description"] = check_description(params.description or "")
    if "scopes" in sent:
        key.scopes = changes["scopes"] = check_scopes(params.scopes or [])
    if "workspace_id" in sent and params.workspace_id is not None:
        workspace = await workspace_in_org(
            session=session, org_id=key.org_id, workspace_id=params.workspace_id
        )
        key.workspace_id = changes["workspace_id"] = workspace.id
    if "allowed_models" in sent:
        key.allowed_models = changes["allowed_models"] = clean_allowed_models(params.allowed_models)
    for field in ("rate_limit_rpm", "rate_limit_tpm"):
        if field in sent:
            value = getattr(params, field)
            check_rate_limit(value, field)
            setattr(key, field, value)
            changes[field] = value
    if "allowed_ips" in sent:
        key.allowed_ips = changes["allowed_ips"] = clean_allowed_ips(params.allowed_ips)
    if "tags" in sent:
        key.tags = changes["tags"] = clean_key_tags(params.tags)
    if "max_concurrency" in sent:
        check_max_concurrency(params.max_concurrency)
        key.max_concurrency = changes["max_concurrency"] = params.max_concurrency
    if changes:
        key.updated_at = utcnow()
        await session.flush()
        await audit.record(session, principal, "key.updated", key, changes=changes)
    return key


async def revoke_member_keys(*, session: AsyncSession, org_id: str, user_id: str) -> int:
    """A removed member's keys of every kind stop at once; rejoining brings none back without an admin.

    Returns how many were still unrevoked. Each is also marked disabled by an admin, so a
    re-added member cannot restore them on their own.
    """
    keys = ApiKeyRepository(session, org_id)
    found = await keys.list(keys.of_creator(user_id))
    revoked, now = 0, utcnow()
    for key in found:
        if not key.revoked:
            revoked += 1
        key.revoked = key.disabled = key.disabled_by_admin = True
        key.updated_at = now
    await session.flush()
    return revoked


async def delete_key(*, session: AsyncSession, principal: Principal, key_hash: str) -> ApiKey:
    """Delete a key and (by cascade) its budgets; usage records stay for reporting."""
    key = await get_key(session=session, principal=principal, key_hash=key_hash)
    await remove_key(session=session, principal=principal, key=key)
    return key


async def remove_key(*, session: AsyncSession, principal: Principal, key: ApiKey) -> None:
    """Delete the key; of concurrent deletes exactly one wins (and is audited), the rest are 404."""
    target = audit.target_of(key)
    if not await delete_once(session, key):
        raise NotFound("API key not found")
    await audit.record(session, principal, "key.deleted", target, name=key.name, kind=key.kind)


async def rotate_key(
    *, session: AsyncSession, principal: Principal, key_hash: str, grace_seconds: int
) -> tuple[ApiKey, str]:
    """Rotate a key the caller may see (keys.rotation); its old secret works for `grace_seconds`."""
    key = await get_key(session=session, principal=principal, key_hash=key_hash)
    return await rotation.rotate_key(
        session=session, principal=principal, key=key, grace_seconds=grace_seconds
    )
