"""Event payloads, built once when a delivery is enqueued: every retry sends the same bytes' content."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane.kernel.money import nanos_to_usd
from keyplane.webhooks.schemas import BUDGET_THRESHOLD
from keyplane.webhooks.thresholds import NEVER_RESETS, Crossing


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def threshold_payload(message_id: str, crossing: Crossing, created_at: datetime) -> dict[str, Any]:
    """`budget.threshold`: amounts in USD; `window_start` null for a limit that never resets."""
    return {
        "id": message_id,
        "type": BUDGET_THRESHOLD,
        "created_at": iso(created_at),
        "data": {
            "org_id": crossing.org_id,
            "subject": crossing.subject,
            "subject_id": crossing.subject_id,
            "threshold": crossing.threshold,
            "usage": nanos_to_usd(crossing.usage_nanos),
            "limit": nanos_to_usd(crossing.limit_nanos),
            "window_start": None if crossing.window_start == NEVER_RESETS else iso(crossing.window_start),
        },
    }
