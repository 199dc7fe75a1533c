"""Switching a key off and on: disable, revoke, restore, and who may turn a key back on.

Who may switch a key back on lives here alone: a key an owner/admin disabled (or took away by
removing its member) is enabled or restored again only by an owner/admin, and restoring an
org-level management key needs a current admin of its org.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import Forbidden, NotFound
from keyplane.kernel.principal import Principal
from keyplane.keys.caps import check_org_key_cap
from keyplane.models import ApiKey
from keyplane.models.base import utcnow


def require_may_enable(principal: Principal, key: ApiKey) -> None:
    """A key an owner/admin disabled stays off until an owner/admin turns it back on."""
    if key.disabled_by_admin and not principal.is_admin:
        raise Forbidden(
            "An organization admin disabled this key: only an owner or admin can enable it again",
            code="disabled_by_admin",
        )


def set_disabled(principal: Principal, key: ApiKey, disabled: bool) -> None:
    """Disable (remembering whether an owner/admin did it) or enable, if the caller may."""
    if disabled:
        key.disabled = True
        key.disabled_by_admin = key.disabled_by_admin or principal.is_admin
        return
    require_may_enable(principal, key)
    key.disabled = key.disabled_by_admin = False


def require_may_restore(principal: Principal, key: ApiKey) -> None:
    """Only a current member of the key's org, and for an org-level management key its admin."""
    if not principal.is_system and principal.role is None:
        raise NotFound("API key not found")  # a removed member no longer sees the org's keys
    if key.is_management and key.reach == "org" and not principal.is_admin:
        raise Forbidden("Only organization admins can restore organization-level keys", code="admin_required")
    require_may_enable(principal, key)


async def restore_key(
    *, session: AsyncSession, principal: Principal, key: ApiKey, default_org_cap: int
) -> ApiKey:
    """Make a revoked or disabled key work again, if require_may_restore allows it; a revoked key
    counts against the org's key cap again, like a new one."""
    require_may_restore(principal, key)
    if key.revoked:
        await check_org_key_cap(session, org_id=key.org_id, default_cap=default_org_cap)
    key.disabled = key.disabled_by_admin = False
    return await _set_revoked(session=session, principal=principal, key=key, revoked=False)


async def revoke_key(*, session: AsyncSession, principal: Principal, key: ApiKey) -> ApiKey:
    """Stop a key at once; anyone who may see it may stop it."""
    return await _set_revoked(session=session, principal=principal, key=key, revoked=True)


async def _set_revoked(*, session: AsyncSession, principal: Principal, key: ApiKey, revoked: bool) -> ApiKey:
    """A revoked key is refused at once and works again after restore_key."""
    key.revoked = revoked
    key.updated_at = utcnow()
    await session.flush()
    await audit.record(session, principal, "key.revoked" if revoked else "key.restored", key)
    return key
