"""Which of 80/95/100 % a subject crossed in one flush, given its usage before and after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from keyplane.webhooks.schemas import THRESHOLDS

# The window of limits that never reset (the gateway's spend counters use the same instant).
NEVER_RESETS = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SpendChange:
    """What one flush added to one limit subject's spend counter (a key limit or a budget)."""

    org_id: str
    subject: str  # "key" | "budget"
    subject_id: str  # the key's or the budget's id
    counter: str  # the spend_counters subject it moved
    window_start: datetime
    limit_nanos: int
    added_nanos: int


@dataclass(frozen=True, slots=True)
class Crossing:
    """A subject's usage passed `threshold` % of its limit in the window starting `window_start`."""

    org_id: str
    subject: str  # "key" | "budget" | "balance"
    subject_key: str  # the once-per-window key: "key:<id>", "budget:<id>", "balance:<org>"
    subject_id: str  # what the payload names: the key's hash, the budget's id, the org's id
    threshold: int
    usage_nanos: int
    limit_nanos: int
    window_start: datetime


def crossed(before: int, after: int, limit: int) -> list[int]:
    """Thresholds t with before < t % of limit <= after (integer arithmetic: no rounding at 100 %)."""
    if limit <= 0 or after <= before:
        return []
    return [t for t in THRESHOLDS if before * 100 < t * limit <= after * 100]
