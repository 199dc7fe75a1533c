"""What a usage batch did to each limit, handed to the webhook alerts (keyplane.webhooks.alerts).

Work per flushed batch, never per request: the batch's settlements already name every counter
they charged, so no lookup is needed to know which key limits, budgets and balances moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from keyplane.gateway.spend_reservations import Settlement
from keyplane.gateway.subjects import LimitSubject
from keyplane.usage.writer import UsageEvent
from keyplane.webhooks.thresholds import SpendChange


def _subject_of(subject: LimitSubject) -> tuple[str, str]:
    """("key", key id) or ("budget", budget id): a budget's counter is "budget:<id>:<a|p>"."""
    if subject.counter.startswith("key:"):
        return "key", subject.scope_id
    return "budget", subject.counter.split(":", 2)[1]


def spend_changes(
    batch: Sequence[tuple[UsageEvent, Settlement]],
) -> tuple[list[SpendChange], dict[str, int]]:
    """(per limit counter: what the batch added to it; per org: the platform cost debited)."""
    added: dict[tuple[str, datetime], int] = defaultdict(int)
    subjects: dict[tuple[str, datetime], tuple[str, LimitSubject]] = {}
    debits: dict[str, int] = defaultdict(int)
    for event, settlement in batch:
        if not event.is_byok and event.cost_nanousd:
            debits[event.org_id] += event.cost_nanousd
        for subject, _charged in settlement.reservation.holds:
            if subject.is_balance or subject.limit_nanos is None or not subject.applies(settlement.is_byok):
                continue
            key = (subject.counter, subject.window_start)
            subjects[key] = (event.org_id, subject)
            added[key] += settlement.actual_nanos
    changes = []
    for key, amount in added.items():
        org_id, subject = subjects[key]
        kind, subject_id = _subject_of(subject)
        assert subject.limit_nanos is not None
        changes.append(
            SpendChange(
                org_id=org_id,
                subject=kind,
                subject_id=subject_id,
                counter=subject.counter,
                window_start=subject.window_start,
                limit_nanos=subject.limit_nanos,
                added_nanos=amount,
            )
        )
    return changes, dict(debits)
