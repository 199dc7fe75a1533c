"""Rotating a key's secret with a grace period: the same key (limits, budgets, usage, windows)
under a new secret, the old one still accepted until previous_key_expires_at.

The key keeps its id, so both secrets' spend counts against the one limit (reservations,
counters and rate limits are per key id). A second rotation replaces the previous secret: only
the last one before the current keeps its grace.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.auth.tokens import generate_key, hash_key, mask_key
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.principal import Principal
from keyplane.models import ApiKey
from keyplane.models.base import utcnow

DEFAULT_GRACE_SECONDS = 3600
MAX_GRACE_SECONDS = 7 * 24 * 3600


def check_grace(grace_seconds: int) -> timedelta:
    if isinstance(grace_seconds, bool) or not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise BadRequest(f"grace_seconds must be between 0 and {MAX_GRACE_SECONDS} (7 days)")
    return timedelta(seconds=grace_seconds)


async def rotate_key(
    *,
    session: AsyncSession,
    principal: Principal,
    key: ApiKey,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new secret for `key`; the plaintext is returned here and never again. Of two concurrent
    rotations of one key the second finds the hash changed and is a 404, like a stale hash."""
    grace = check_grace(grace_seconds)
    if key.revoked:
        raise BadRequest("A revoked key cannot be rotated; restore it first", code="key_revoked")
    named = key.hash
    # A no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) until commit, so
    # concurrent rotations run one after the other and the second sees the first one's hash.
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(hash=ApiKey.hash))
    await session.refresh(key)
    if key.hash != named:
        raise NotFound("API key not found")
    now = now or utcnow()
    plaintext = generate_key(key.kind)
    key.previous_hash = key.hash
    key.previous_key_expires_at = now + grace
    key.hash = hash_key(plaintext)
    key.label = mask_key(plaintext)
    key.updated_at = now
    await session.flush()
    await audit.record(
        session,
        principal,
        "key.rotated",
        key,
        grace_seconds=int(grace.total_seconds()),
        previous_key_expires_at=key.previous_key_expires_at.isoformat(),
    )
    return key, plaintext
