"""Model discovery on a schedule: credentials serving every model learn a provider's new models.

Every instance runs its own loop (one at a time is not needed: a pass only rewrites what the
provider says). The first pass waits a random part of the interval and every later one the
interval +/- 10 %, so instances started together do not call the providers together. A pass is
one short transaction per credential; a failure is recorded on the credential, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import ProviderCredential
from keyplane.providers.discovery import STATUS_SUCCESS, discover
from keyplane.providers.eligibility import serves_all_models
from keyplane.providers.policy import ProviderPolicy
from keyplane.providers.secrets import box_for

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("keyplane.providers")
JITTER = 0.1


async def refresh_wildcard_credentials(
    context: AppContext, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """One pass over every enabled credential serving every model, of every org; returns how many
    answered with their models."""
    settings = context.settings
    box = box_for(context.secret_key, settings.secret_key_previous)
    policy = ProviderPolicy.from_settings(settings)
    async with context.sessions() as session:
        rows = (
            await session.execute(
                select(ProviderCredential.uid, ProviderCredential.models).where(
                    ProviderCredential.enabled.is_(True)
                )
            )
        ).all()
    succeeded = 0
    for uid, models in rows:
        if not serves_all_models(models or []):
            continue
        async with session_scope(context.sessions) as session:
            row = await session.get(ProviderCredential, uid)
            if row is None or not row.enabled or not serves_all_models(row.models or []):
                continue  # changed or deleted since the list was read
            await discover(
                session=session,
                row=row,
                box=box,
                timeout_seconds=settings.provider_discovery_timeout_seconds,
                policy=policy,
                transport=transport,
            )
            succeeded += row.status == STATUS_SUCCESS
    return succeeded


def next_wait(interval: float, rng: random.Random, *, first: bool) -> float:
    """Seconds until the next pass: a random part of the interval first, then the interval +/- 10 %."""
    if first:
        return interval * rng.random()
    return interval * (1 + JITTER * (2 * rng.random() - 1))


async def _run(context: AppContext, interval: float) -> None:
    rng = random.Random()
    first = True
    while True:
        await asyncio.sleep(next_wait(interval, rng, first=first))
        first = False
        try:
            await refresh_wildcard_credentials(context)
        except Exception:
            logger.exception("scheduled model discovery failed")


async def start_model_discovery(context: AppContext, stack: AsyncExitStack) -> None:
    """Lifespan hook: discover the models of wildcard credentials every interval (0: never)."""
    interval = context.settings.model_discovery_interval_seconds
    if interval <= 0:
        return
    task = asyncio.create_task(_run(context, interval))

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
