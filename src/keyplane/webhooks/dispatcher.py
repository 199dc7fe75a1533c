"""The outbox dispatcher: every instance polls for due deliveries, claims them, sends, records.

A claim is a conditional UPDATE (status pending, due, attempts unchanged) that bumps `attempts` and
pushes `next_attempt_at` past the attempt's longest run, so on PostgreSQL and SQLite alike exactly
one instance sends each attempt, and a claim whose instance died is retried once it lapses. A
failed attempt (an error, a timeout, a non-2xx answer) is retried after BACKOFF_SECONDS, for
about eight hours; then the delivery is `failed`. All of it is in the database: a restart resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import WebhookDelivery, WebhookEndpoint
from keyplane.models.base import utcnow
from keyplane.net.egress import EgressPolicy, egress_policy
from keyplane.providers.secrets import SecretBox, SecretDecryptError, box_for
from keyplane.webhooks.secrets import unseal
from keyplane.webhooks.sender import Attempt, deliver

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("keyplane.webhooks")

# Wait after the n-th failed attempt: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h.
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600, 7200, 14400)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
CLAIM_BATCH = 50
SEND_CONCURRENCY = 10
CLAIM_MARGIN_SECONDS = 60.0  # a claim lapses this long after the attempt's timeout


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    attempts: int  # including this one
    url: str
    stored_secret: str
    payload: Any


def retry_delay(attempts: int) -> timedelta:
    """How long after the `attempts`-th failure the next attempt is due."""
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


class WebhookDispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        box: SecretBox,
        egress: EgressPolicy,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._egress = egress
        self._timeout = timeout_seconds
        self._transport = transport
        self._client: httpx.AsyncClient | None = None  # made by the first delivery

    def _http(self) -> httpx.AsyncClient:
        """The pooled client, made on first use (a server that never delivers never loads httpx)."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=self._timeout, trust_env=False, follow_redirects=False, transport=self._transport
            )
        return self._client

    @classmethod
    def of(
        cls, context: AppContext, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> WebhookDispatcher:
        settings = context.settings
        return cls(
            context.sessions,
            box=box_for(context.secret_key, settings.secret_key_previous),
            egress=egress_policy(settings.allowed_upstream_hosts),
            timeout_seconds=settings.webhook_timeout_seconds,
            transport=transport,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def run_once(self, *, now: datetime | None = None) -> int:
        """One pass: claim what is due at `now` (default: the current time), send it, record the
        outcomes; returns how many attempts were made."""
        claimed = await self._claim(now or utcnow())
        if not claimed:
            return 0
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def attempt(delivery: Claimed) -> Attempt:
            async with gate:
                return await self._attempt(delivery)

        outcomes = await asyncio.gather(*(attempt(d) for d in claimed))
        await self._record(list(zip(claimed, outcomes, strict=True)), now or utcnow())
        return len(claimed)

    async def _claim(self, now: datetime) -> list[Claimed]:
        lease_until = now + timedelta(seconds=self._timeout + CLAIM_MARGIN_SECONDS)
        async with session_scope(self._sessions) as session:
            due = (
                await session.execute(
                    select(WebhookDelivery.id, WebhookDelivery.attempts)
                    .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(CLAIM_BATCH)
                )
            ).all()
            won: dict[str, int] = {}
            for delivery_id, attempts in due:
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.attempts == attempts,
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(attempts=attempts + 1, next_attempt_at=lease_until)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:  # 0: another instance claimed it first
                    won[delivery_id] = attempts + 1
            if not won:
                return []
            rows = (
                await session.execute(
                    select(
                        WebhookDelivery.id,
                        WebhookDelivery.payload,
                        WebhookEndpoint.url,
                        WebhookEndpoint.secret,
                    )
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id.in_(list(won)))
                )
            ).all()
        return [Claimed(row[0], won[row[0]], row[2], row[3], row[1]) for row in rows]

    async def _attempt(self, delivery: Claimed) -> Attempt:
        try:
            secret = unseal(self._box, delivery.stored_secret)
        except SecretDecryptError:
            return Attempt(
                False, error="The endpoint's secret cannot be decrypted (KEYPLANE_SECRET_KEY changed?)"
            )
        try:
            return await deliver(
                self._http(),
                url=delivery.url,
                secret=secret,
                message_id=delivery.id,
                payload=delivery.payload,
                egress=self._egress,
                now=utcnow(),  # the signed timestamp is the real time: receivers check it
            )
        except Exception:  # a bug here must not lose the delivery: it is retried like a failure
            logger.exception("webhook delivery %s failed unexpectedly", delivery.id)
            return Attempt(False, error="The delivery failed inside keyplane")

    async def _record(self, outcomes: list[tuple[Claimed, Attempt]], now: datetime) -> None:
        async with session_scope(self._sessions) as session:
            for delivery, outcome in outcomes:
                values: dict[str, Any] = {
                    "last_status_code": outcome.status_code,
                    "last_error": None if outcome.ok else (outcome.error or "")[:500],
                }
                if outcome.ok:
                    values.update(status="delivered", delivered_at=utcnow())
                elif delivery.attempts >= MAX_ATTEMPTS:
                    values.update(status="failed")
                else:
                    values.update(next_attempt_at=now + retry_delay(delivery.attempts))
                await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.id,
                        WebhookDelivery.attempts == delivery.attempts,
                        WebhookDelivery.status == "pending",
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )


async def _run(dispatcher: WebhookDispatcher, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            while await dispatcher.run_once() >= CLAIM_BATCH:
                pass  # a backlog: keep going without waiting
        except Exception:
            logger.exception("webhook dispatch pass failed (retried next interval)")


async def start_webhook_dispatcher(context: AppContext, stack: AsyncExitStack) -> None:
    """Lifespan hook: send due webhook deliveries every KEYPLANE_WEBHOOK_DISPATCH_INTERVAL_SECONDS."""
    interval = context.settings.webhook_dispatch_interval_seconds
    if interval <= 0:
        return
    dispatcher = WebhookDispatcher.of(context)
    task = asyncio.create_task(_run(dispatcher, interval), name="keyplane-webhook-dispatcher")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.close()

    stack.push_async_callback(stop)
