"""Key test data written through the keys service, in bulk and with states the API refuses to set."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import Principal
from keyplane.keys.schemas import KeyCreate
from keyplane.keys.service import create_key
from keyplane.models import ApiKey, Workspace
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult


def owner_of(org: BootstrapResult) -> Principal:
    return Principal(kind="user", user_id=org.user_id, org_id=org.org_id, role="owner")


async def make_keys(
    context: AppContext,
    org: BootstrapResult,
    count: int,
    *,
    prefix: str = "bulk",
    workspace_id: str | None = None,
) -> list[str]:
    """`count` inference keys in one transaction, created one second apart (oldest first).

    Returns their hashes oldest first; explicit creation times make "newest first" deterministic.
    """
    base = utcnow() - timedelta(days=1)
    hashes = []
    async with session_scope(context.sessions) as session:
        for index in range(count):
            key, _plaintext = await create_key(
                session=session,
                principal=owner_of(org),
                params=KeyCreate(name=f"{prefix}-{index:04d}", workspace_id=workspace_id),
                default_org_cap=context.settings.max_keys_per_org,
            )
            key.created_at = base + timedelta(seconds=index)
            hashes.append(key.hash)
    return hashes


async def set_key_state(
    context: AppContext,
    plaintext_or_hash: str,
    *,
    disabled: bool | None = None,
    revoked: bool | None = None,
    expires_at: datetime | None = None,
) -> None:
    """Put a key in a state directly (e.g. already expired), as time or another surface would."""
    key_hash = plaintext_or_hash if len(plaintext_or_hash) == 64 else hash_key(plaintext_or_hash)
    values: dict[str, object] = {}
    if disabled is not None:
        values["disabled"] = disabled
    if revoked is not None:
        values["revoked"] = revoked
    if expires_at is not None:
        values["expires_at"] = expires_at
    async with session_scope(context.sessions) as session:
        await session.execute(update(ApiKey).where(ApiKey.hash == key_hash).values(**values))


async def add_workspace(context: AppContext, org_id: str, name: str = "second") -> str:
    async with session_scope(context.sessions) as session:
        workspace = Workspace(org_id=org_id, name=name, is_default=False)
        session.add(workspace)
        await session.flush()
        return workspace.id


async def count_keys(context: AppContext) -> int:
    async with context.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(ApiKey))).scalar_one())


async def key_row(context: AppContext, key_hash: str) -> ApiKey | None:
    async with context.sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.hash == key_hash))).scalar_one_or_none()
        if key is not None:
            session.expunge(key)
        return key
