"""Usage reads that stay fast on tens of millions of rows: rollups for whole days, raw rows at the edges.

Every usage record is also summed into usage_rollups (same transaction, see usage.writer), so a
count or a grouping over whole UTC days reads the small rollup table; only the partial days at the
edges of a time range touch raw usage_records, through the (org_id|key_id|user_id|workspace_id,
created_at) indexes. Pages are ordered (created_at, id) descending, which those indexes serve.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, Select, and_, case, cast, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest
from keyplane.kernel.tags import clean_tags
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import UsageRecord, UsageRecordTag, UsageRollup
from keyplane.usage.repository import UsageRecordRepository, UsageRollupRepository

GroupBy = Literal["day", "model", "key", "tag"]
GROUP_BYS: tuple[str, ...] = ("day", "model", "key", "tag")
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 100_000  # deeper pages: narrow the time range (or export) instead of scanning past rows
EXPORT_BATCH = 2000
MIN_YEAR, MAX_YEAR = 1970, 9000  # day arithmetic on the range edges stays far from datetime limits
METRICS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_nanousd",
    "byok_cost_nanousd",
)


@dataclass(slots=True)
class UsageFilter:
    """Which usage to read: one org, optionally a time range [start, end) and exact matches."""

    org_id: str
    start: datetime | None = None
    end: datetime | None = None
    key_id: str | None = None
    user_id: str | None = None
    workspace_id: str | None = None
    model: str | None = None
    tag: str | None = None  # records carrying this tag (raw records only: rollups hold no tags)

    @property
    def needs_raw(self) -> bool:
        return self.tag is not None

    def validate(self) -> None:
        if self.tag is not None:
            self.tag = clean_tags([self.tag], source="tag")[0]
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None:
                continue
            if not MIN_YEAR <= value.year <= MAX_YEAR:
                raise BadRequest(f"{name} must lie between the years {MIN_YEAR} and {MAX_YEAR}")
            if value.tzinfo is None:
                setattr(self, name, value.replace(tzinfo=UTC))
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise BadRequest("start must be before end", code="invalid_time_range")


@dataclass(slots=True, frozen=True)
class _Split:
    """A time range as whole days [first_day, end_day) for the rollups plus raw-row edge ranges."""

    whole_days: tuple[date | None, date | None] | None
    edges: tuple[tuple[datetime | None, datetime | None], ...]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _is_midnight(value: datetime) -> bool:
    return value.astimezone(UTC).time() == time()


def split_range(start: datetime | None, end: datetime | None) -> _Split:
    """[start, end) as whole UTC days (rollups) plus the partial days at either edge (raw rows)."""
    first = None  # first whole day: the start's day, or the next one when start is not midnight
    if start is not None:
        first = start.astimezone(UTC).date() + timedelta(days=0 if _is_midnight(start) else 1)
    last = None if end is None else end.astimezone(UTC).date()  # exclusive
    if first is not None and last is not None and first > last:  # inside one UTC day
        return _Split(None, ((start, end),))
    edges: list[tuple[datetime | None, datetime | None]] = []
    if start is not None and first is not None and not _is_midnight(start):
        edges.append((start, _midnight(first)))
    if end is not None and last is not None and not _is_midnight(end):
        edges.append((_midnight(last), end))
    no_whole_day = first is not None and last is not None and first == last
    return _Split(None if no_whole_day else (first, last), tuple(edges))


def _record_where(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if start is not None:
        where.append(UsageRecord.created_at >= start)
    if end is not None:
        where.append(UsageRecord.created_at < end)
    return where


def _rollup_where(first: date | None, last: date | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if first is not None:
        where.append(UsageRollup.day >= first)
    if last is not None:
        where.append(UsageRollup.day < last)
    return where


def _split_for(f: UsageFilter, *, raw: bool = False) -> _Split:
    """Rollups for whole days, raw records at the edges; all raw when tags are involved."""
    if raw or f.needs_raw:
        return _Split(None, ((f.start, f.end),))
    return split_range(f.start, f.end)


def _records(session: AsyncSession, f: UsageFilter, *columns: Any) -> Select[Any]:
    """The filter's raw records (the org first), as whole rows or as the given columns."""
    repository = UsageRecordRepository(session, f.org_id)
    statement = repository.select_columns(*columns) if columns else repository.select()
    return repository.matching(statement, f)


def _rollups(session: AsyncSession, f: UsageFilter, *columns: Any) -> Select[Any]:
    """The filter's daily rollups (the org first) as the given columns."""
    repository = UsageRollupRepository(session, f.org_id)
    return repository.matching(repository.select_columns(*columns), f)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def record_day(session: AsyncSession) -> ColumnElement[Any]:
    """The UTC calendar day of a raw record, independent of the database session's time zone."""
    if _dialect(session) == "postgresql":
        return cast(func.timezone("UTC", UsageRecord.created_at), Date)
    return func.date(UsageRecord.created_at)


async def count_usage_records(*, session: AsyncSession, filter: UsageFilter) -> int:
    """Exact count: request totals of the rollups for whole days plus raw counts of the edge hours."""
    filter.validate()
    split = _split_for(filter)
    total = 0
    if split.whole_days is not None:
        query = _rollups(session, filter, func.coalesce(func.sum(UsageRollup.requests), 0)).where(
            *_rollup_where(*split.whole_days)
        )
        total += int((await session.execute(query)).scalar_one())
    for start, end in split.edges:
        query = _records(session, filter, func.count()).where(*_record_where(start, end))
        total += int((await session.execute(query)).scalar_one())
    return total


def check_page(page: int, page_size: int) -> None:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise BadRequest("page must be an integer of 1 or more")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadRequest(f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}")
    if (page - 1) * page_size > MAX_OFFSET:
        raise BadRequest(
            f"Pages beyond {MAX_OFFSET} rows are not served: narrow start/end or use the CSV export",
            code="page_too_deep",
        )


async def list_usage_records(
    *, session: AsyncSession, filter: UsageFilter, page: int, page_size: int
) -> tuple[list[UsageRecord], int]:
    """One page, newest first (created_at, id descending), and the total count of matching records."""
    check_page(page, page_size)
    filter.validate()
    query = (
        _records(session, filter)
        .where(*_record_where(filter.start, filter.end))
        .order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    records = list((await session.execute(query)).scalars())
    total = await count_usage_records(session=session, filter=filter)
    return records, total


async def iter_usage_records(
    *, session: AsyncSession, filter: UsageFilter, batch_size: int = EXPORT_BATCH
) -> AsyncIterator[UsageRecord]:
    """Every matching record newest first, fetched in keyset batches (no OFFSET), for exports."""
    filter.validate()
    cursor: tuple[datetime, int] | None = None
    while True:
        query = _records(session, filter).where(*_record_where(filter.start, filter.end))
        if cursor is not None:
            at, last_id = cursor
            query = query.where(
                or_(UsageRecord.created_at < at, and_(UsageRecord.created_at == at, UsageRecord.id < last_id))
            )
        query = query.order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc()).limit(batch_size)
        batch = list((await session.execute(query)).scalars())
        for record in batch:
            yield record
        if len(batch) < batch_size:
            return
        cursor = (batch[-1].created_at, batch[-1].id)


def _sums(table: type[UsageRecord] | type[UsageRollup]) -> list[ColumnElement[Any]]:
    cost = table.cost_nanousd
    requests = func.count() if table is UsageRecord else func.sum(UsageRollup.requests)
    return [
        requests,
        func.coalesce(func.sum(table.prompt_tokens), 0),
        func.coalesce(func.sum(table.completion_tokens), 0),
        func.coalesce(func.sum(table.cached_tokens), 0),
        func.coalesce(func.sum(table.cache_write_tokens), 0),
        func.coalesce(func.sum(cost), 0),
        func.coalesce(func.sum(case((table.is_byok.is_(True), cost), else_=0)), 0),
    ]


async def grouped_usage(
    *, session: AsyncSession, filter: UsageFilter, group_by: GroupBy
) -> list[dict[str, Any]]:
    """Requests, tokens and cost (nano-USD, BYOK share apart) per day (ascending), model or key.

    Rows: {"day"|"model"|"tag"|"key_id" (+ "key_hash", "key_name"), "requests", "prompt_tokens",
    "completion_tokens", "cached_tokens", "cache_write_tokens", "total_tokens", "cost_nanousd",
    "byok_cost_nanousd"}.
    Model, key and tag groups come most expensive first; a record with two tags counts in both
    tag groups, and tags (filter or grouping) read raw records, never the tagless rollups.
    """
    if group_by not in GROUP_BYS:
        raise BadRequest(f"group_by must be one of {', '.join(GROUP_BYS)}")
    filter.validate()
    split = _split_for(filter, raw=group_by == "tag")
    merged: dict[Any, list[int]] = {}

    def add(rows: Any) -> None:
        for group, *values in rows:
            if group_by == "day" and isinstance(group, str):
                group = date.fromisoformat(group)
            elif group_by == "day" and isinstance(group, datetime):
                group = group.date()
            current = merged.setdefault(group, [0] * len(METRICS))
            for index, value in enumerate(values):
                current[index] += int(value or 0)

    if split.whole_days is not None:
        column = {"day": UsageRollup.day, "model": UsageRollup.model, "key": UsageRollup.key_id}[group_by]
        query = (
            _rollups(session, filter, column, *_sums(UsageRollup))
            .where(*_rollup_where(*split.whole_days))
            .group_by(column)
        )
        add((await session.execute(query)).all())
    for start, end in split.edges:
        add((await session.execute(_raw_groups(session, filter, group_by, start, end))).all())

    rows = []
    for group, values in merged.items():
        row: dict[str, Any] = dict(zip(METRICS, values, strict=True))
        row["total_tokens"] = row["prompt_tokens"] + row["completion_tokens"]
        if group_by == "day":
            row = {"day": group.isoformat(), **row}
        elif group_by == "model":
            row = {"model": group, **row}
        elif group_by == "tag":
            row = {"tag": group, **row}
        else:
            row = {"key_id": group, "key_hash": None, "key_name": None, **row}
        rows.append(row)
    if group_by == "day":
        rows.sort(key=lambda r: r["day"])
        return rows
    name = {"model": "model", "key": "key_id", "tag": "tag"}[group_by]
    rows.sort(key=lambda r: (-r["cost_nanousd"], -r["requests"], str(r[name])))
    if group_by == "key" and rows:
        await _attach_key_names(session, filter.org_id, rows)
    return rows


def _raw_groups(
    session: AsyncSession, f: UsageFilter, group_by: GroupBy, start: datetime | None, end: datetime | None
) -> Select[Any]:
    """Sums of raw records in [start, end) per group; per tag, a record counts once in each of its tags."""
    repository = UsageRecordRepository(session, f.org_id)
    if group_by == "tag":
        column: Any = UsageRecordTag.tag
        statement = repository.by_tag(repository.select_columns(column, *_sums(UsageRecord)))
    else:
        column = {"day": record_day(session), "model": UsageRecord.model, "key": UsageRecord.key_id}[group_by]
        statement = repository.select_columns(column, *_sums(UsageRecord))
    return repository.matching(statement, f).where(*_record_where(start, end)).group_by(column)


async def _attach_key_names(session: AsyncSession, org_id: str, rows: list[dict[str, Any]]) -> None:
    """Keys may have been deleted since (usage outlives them): their hash and name stay null."""
    found = await ApiKeyRepository(session, org_id).names_by_id(row["key_id"] for row in rows)
    for row in rows:
        if row["key_id"] in found:
            row["key_hash"], row["key_name"] = found[row["key_id"]]
