"""Re-encrypt every webhook signing secret under a new secret key (`keyplane secrets rotate`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import WebhookEndpoint
from keyplane.providers.secrets import SecretBox


async def rotate_webhook_secrets(*, session: AsyncSession, old: SecretBox, new: SecretBox) -> int:
    """Decrypt with `old`, encrypt with `new`, in the caller's transaction; returns how many moved.

    A secret the old keys cannot decrypt raises SecretDecryptError: the caller rolls back everything."""
    rows = (await session.execute(select(WebhookEndpoint).with_for_update())).scalars().all()
    for row in rows:
        row.secret = new.encrypt(old.decrypt(row.secret))
    await session.flush()
    return len(rows)
