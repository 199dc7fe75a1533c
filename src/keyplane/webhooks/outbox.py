"""The outbox: a delivery row per subscribed endpoint, written in the flush's transaction.

A threshold event is inserted once per (endpoint, subject, threshold, window): the unique
constraint decides, and a conflicting insert (another instance's flush saw it first) is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import WebhookDelivery, WebhookEndpoint
from keyplane.models.base import utcnow
from keyplane.models.webhook import new_message_id
from keyplane.webhooks.events import threshold_payload
from keyplane.webhooks.schemas import BUDGET_THRESHOLD
from keyplane.webhooks.thresholds import Crossing

ONCE_PER_WINDOW = ("endpoint_id", "subject_key", "threshold", "window_start")
ROWS_PER_STATEMENT = 100  # 12 columns each: well under SQLite's bound-parameter limit


async def enqueue_crossings(
    session: AsyncSession, crossings: Sequence[Crossing], endpoints: Sequence[WebhookEndpoint]
) -> int:
    """Queue each crossing for each endpoint (all of the crossing's org); returns how many were new."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for crossing in crossings:
        for endpoint in endpoints:
            if endpoint.org_id != crossing.org_id:
                continue
            message_id = new_message_id()
            rows.append(
                {
                    "id": message_id,
                    "endpoint_id": endpoint.id,
                    "org_id": crossing.org_id,
                    "event_type": BUDGET_THRESHOLD,
                    "payload": threshold_payload(message_id, crossing, now),
                    "subject_key": crossing.subject_key,
                    "threshold": crossing.threshold,
                    "window_start": crossing.window_start,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if not rows:
        return 0
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    added = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):  # RETURNING names only the new rows
        statement = (
            module.insert(WebhookDelivery)
            .values(rows[start : start + ROWS_PER_STATEMENT])
            .on_conflict_do_nothing(index_elements=list(ONCE_PER_WINDOW))
            .returning(WebhookDelivery.id)
        )
        added += len((await session.execute(statement)).all())
    return added
