"""Usage test data written through the real batch writer (records, rollups and ledger debits)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.money import usd_to_nanos
from keyplane.models import ApiKey
from keyplane.usage.writer import UsageEvent, write_usage_batch


async def key_of(context: AppContext, plaintext: str) -> ApiKey:
    async with context.sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.hash == hash_key(plaintext)))).scalar_one()
        session.expunge(key)
        return key


def event_for(
    key: ApiKey,
    *,
    at: datetime,
    model: str = "openai/gpt-4o",
    provider: str = "openai",
    cost_usd: float = 0.01,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    is_byok: bool = False,
) -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4().hex,
        org_id=key.org_id,
        workspace_id=key.workspace_id,
        key_id=key.id,
        user_id=key.creator_user_id,
        model=model,
        provider=provider,
        is_byok=is_byok,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_nanousd=usd_to_nanos(cost_usd),
        created_at=at,
    )


async def write_usage(context: AppContext, events: list[UsageEvent]) -> None:
    async with session_scope(context.sessions) as session:
        await write_usage_batch(session, events)
