"""Write usage in batches: raw records, daily rollups and the org ledger's usage debits together."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.models import LedgerEntry, UsageRecord, UsageRecordTag, UsageRollup
from keyplane.models.base import utcnow


@dataclass(slots=True)
class UsageEvent:
    """What the gateway knows about one finished request."""

    request_id: str
    org_id: str
    workspace_id: str
    key_id: str
    model: str
    user_id: str | None = None
    provider: str = ""
    credential_id: str | None = None
    is_byok: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cost_nanousd: int = 0
    latency_ms: int = 0
    status_code: int = 200
    streamed: bool = False
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    tags: tuple[str, ...] | None = None

    def as_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in self.__slots__}
        row["tags"] = list(self.tags) if self.tags else None
        return row


logger = logging.getLogger("keyplane.usage.writer")

INT32_MAX = 2**31 - 1
# A record's cost at most 1M USD, so the sums of a batch (ledger debits, rollups) fit BIGINT too.
MAX_RECORD_COST_NANOS = 10**15
# What each usage_records column holds: counts are INTEGER, cost BIGINT, text has a length.
_INT_RANGES = {
    "prompt_tokens": INT32_MAX,
    "completion_tokens": INT32_MAX,
    "cached_tokens": INT32_MAX,
    "latency_ms": INT32_MAX,
    "status_code": INT32_MAX,
    "cost_nanousd": MAX_RECORD_COST_NANOS,
}
_TEXT_LENGTHS = {"request_id": 64, "model": 200, "provider": 50, "credential_id": 100, "error": 500}


def guard_event(event: UsageEvent) -> bool:
    """Fit one record into its columns (numbers clamped, text cut, NUL dropped: PostgreSQL refuses
    it), so it cannot fail its batch; True when something had to change (the caller logs it)."""
    changed = False
    for name, top in _INT_RANGES.items():
        value = getattr(event, name)
        if not 0 <= value <= top:
            setattr(event, name, min(max(value, 0), top))
            changed = True
    for name, length in _TEXT_LENGTHS.items():
        value = getattr(event, name)
        if value is not None and (len(value) > length or "\x00" in value):
            setattr(event, name, value.replace("\x00", "")[:length])
            changed = True
    return changed


ROLLUP_KEY = ("day", "key_id", "model", "provider", "is_byok")
ROLLUP_SUMS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_nanousd",
)


def _rollup_rows(events: Sequence[UsageEvent]) -> list[dict[str, Any]]:
    grouped: dict[tuple[date, str, str, str, bool], dict[str, Any]] = {}
    for event in events:
        key = (event.created_at.date(), event.key_id, event.model, event.provider, event.is_byok)
        row = grouped.get(key)
        if row is None:
            row = grouped[key] = {
                **dict(zip(ROLLUP_KEY, key, strict=True)),
                "org_id": event.org_id,
                "workspace_id": event.workspace_id,
                "user_id": event.user_id,
                **dict.fromkeys(ROLLUP_SUMS, 0),
            }
        row["requests"] += 1
        row["prompt_tokens"] += event.prompt_tokens
        row["completion_tokens"] += event.completion_tokens
        row["cached_tokens"] += event.cached_tokens
        row["cache_write_tokens"] += event.cache_write_tokens
        row["cost_nanousd"] += event.cost_nanousd
    return list(grouped.values())


async def _upsert_rollups(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    for row in rows:  # one statement per row: batches are small after grouping by day/key/model
        stmt = module.insert(UsageRollup).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(ROLLUP_KEY),
            set_={name: getattr(UsageRollup, name) + stmt.excluded[name] for name in ROLLUP_SUMS},
        )
        await session.execute(stmt)


async def _insert_records(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    """Untagged records in one executemany; tagged ones return their ids for usage_record_tags."""
    untagged = [event.as_row() for event in events if not event.tags]
    tagged = [event for event in events if event.tags]
    if untagged:
        await session.execute(insert(UsageRecord), untagged)
    if not tagged:
        return
    statement = insert(UsageRecord).returning(UsageRecord.id, sort_by_parameter_order=True)
    ids = (await session.execute(statement, [event.as_row() for event in tagged])).scalars().all()
    await session.execute(
        insert(UsageRecordTag),
        [
            {"record_id": record_id, "tag": tag, "org_id": event.org_id, "created_at": event.created_at}
            for record_id, event in zip(ids, tagged, strict=True)
            for tag in event.tags or ()
        ],
    )


async def write_usage_batch(
    session: AsyncSession, events: Sequence[UsageEvent], *, note: str = "gateway usage"
) -> None:
    """Persist a batch in the caller's transaction; platform (non-BYOK) cost is debited per org."""
    if not events:
        return
    for event in events:
        if guard_event(event):
            logger.warning("usage record %s did not fit its columns; stored clamped", event.request_id)
    await _insert_records(session, events)
    await _upsert_rollups(session, _rollup_rows(events))
    debits: dict[str, int] = defaultdict(int)
    for event in events:
        if not event.is_byok and event.cost_nanousd:
            debits[event.org_id] += event.cost_nanousd
    if debits:
        await session.execute(
            insert(LedgerEntry),
            [
                {
                    "org_id": org_id,
                    "amount_nanousd": -amount,
                    "kind": "usage",
                    "note": note,
                    "actor": "gateway",
                }
                for org_id, amount in debits.items()
            ],
        )
