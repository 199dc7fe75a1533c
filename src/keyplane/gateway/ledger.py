"""Reserve the worst-case cost on every limit before a request, settle the real cost after.

Two implementations of one contract:
- `SqlSpendLedger` (PostgreSQL, shared by every instance): one conditional
  `UPDATE spend_counters SET reserved = reserved + x WHERE spent + reserved + x <= limit` per
  subject, all in one transaction that rolls back when any subject refuses.
- `MemorySpendLedger` (SQLite, one process by nature): the same arithmetic on in-process counters,
  atomic because the event loop does not switch tasks between the check and the update.

Settlement is batched: the usage flusher applies `spent += actual, reserved -= held` in the same
transaction that writes the usage records and the ledger debits, so spend is never under-counted
and a crash can only leave a reservation over-counted (cleared by `release_stale` later).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import false, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from keyplane.errors import PaymentRequired
from keyplane.gateway.subjects import LimitSubject
from keyplane.models import LedgerEntry, UsageRollup
from keyplane.models.base import utcnow


@dataclass(slots=True)
class Reservation:
    """What one request holds: (subject, nano-USD) pairs, released by its settlement."""

    holds: list[tuple[LimitSubject, int]] = field(default_factory=list)


@dataclass(slots=True)
class Settlement:
    reservation: Reservation
    actual_nanos: int
    is_byok: bool


class SpendLedger(Protocol):
    async def reserve(self, holds: Sequence[tuple[LimitSubject, int]]) -> Reservation: ...

    async def settle_in(self, session: AsyncSession, settlements: Sequence[Settlement]) -> None: ...

    def after_commit(self, settlements: Sequence[Settlement]) -> None: ...

    async def release_stale(self, older_than_seconds: float) -> int: ...


def _refuse(subject: LimitSubject, used: int | None = None) -> PaymentRequired:
    code = "insufficient_balance" if subject.is_balance else "limit_exceeded"
    return PaymentRequired(subject.refusal_message(used), code=code)


async def seed_spent(session: AsyncSession, subject: LimitSubject) -> int:
    """What the subject has spent in its window so far, from the daily rollups."""
    if subject.is_balance:
        return 0
    column = {
        "key": UsageRollup.key_id,
        "workspace": UsageRollup.workspace_id,
        "org": UsageRollup.org_id,
    }[subject.scope]
    query = select(func.coalesce(func.sum(UsageRollup.cost_nanousd), 0)).where(
        column == subject.scope_id, UsageRollup.day >= subject.window_start.date()
    )
    if not subject.counts_byok:
        query = query.where(UsageRollup.is_byok == false())
    elif not subject.counts_platform:
        query = query.where(UsageRollup.is_byok == true())
    return int((await session.execute(query)).scalar_one())


async def ledger_balance(session: AsyncSession, org_id: str) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount_nanousd), 0)).where(LedgerEntry.org_id == org_id)
    return int((await session.execute(query)).scalar_one())


def _aggregate(
    settlements: Iterable[Settlement],
) -> dict[tuple[str, datetime], tuple[LimitSubject, int, int]]:
    """(counter, window) -> (subject, held total, spent total) over a batch."""
    totals: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    subjects: dict[tuple[str, datetime], LimitSubject] = {}
    for settlement in settlements:
        for subject, held in settlement.reservation.holds:
            key = (subject.counter, subject.window_start)
            subjects[key] = subject
            totals[key][0] += held
            if not subject.is_balance and subject.applies(settlement.is_byok):
                totals[key][1] += settlement.actual_nanos
    return {key: (subjects[key], held, spent) for key, (held, spent) in totals.items()}


# ---------------------------------------------------------------------------------------------
# PostgreSQL: shared by every instance on the database.

_SEED = text(
    "INSERT INTO spend_counters (subject, window_start, spent_nanousd, reserved_nanousd, updated_at) "
    "VALUES (:subject, :window, :spent, 0, :now) ON CONFLICT DO NOTHING"
)
_LOCK = text(
    "SELECT subject FROM spend_counters WHERE subject = :subject AND window_start = :window FOR UPDATE"
)
_RESERVE_LIMIT = text(
    "UPDATE spend_counters SET reserved_nanousd = reserved_nanousd + :amount, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window "
    "AND CAST(:limit AS BIGINT) - spent_nanousd - reserved_nanousd - :amount >= :floor "
    "RETURNING spent_nanousd"
)
_RESERVE_BALANCE = text(
    "UPDATE spend_counters SET reserved_nanousd = reserved_nanousd + :amount, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window "
    "AND (SELECT COALESCE(SUM(amount_nanousd), 0) FROM ledger_entries WHERE org_id = :org) "
    "- reserved_nanousd - :amount >= :floor "
    "RETURNING reserved_nanousd"
)
_USED = text(
    "SELECT spent_nanousd + reserved_nanousd FROM spend_counters WHERE subject = :subject "
    "AND window_start = :window"
)
_SETTLE = text(
    "UPDATE spend_counters SET reserved_nanousd = GREATEST(reserved_nanousd - :held, 0), "
    "spent_nanousd = spent_nanousd + :spent, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window"
)
_RELEASE_STALE = text(
    "UPDATE spend_counters SET reserved_nanousd = 0, updated_at = :now "
    "WHERE reserved_nanousd <> 0 AND updated_at < :cutoff"
)


class SqlSpendLedger:
    """Counters in spend_counters; every reservation is one short transaction on the database."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine
        self._sessions = sessions
        self._known: set[tuple[str, datetime]] = set()

    async def _ensure_rows(self, subjects: Iterable[LimitSubject]) -> None:
        missing = [s for s in subjects if (s.counter, s.window_start) not in self._known]
        if not missing:
            return
        async with self._sessions() as session:
            for subject in missing:
                spent = await seed_spent(session, subject)
                await session.execute(
                    _SEED,
                    {
                        "subject": subject.counter,
                        "window": subject.window_start,
                        "spent": spent,
                        "now": utcnow(),
                    },
                )
            await session.commit()
        if len(self._known) > 200_000:
            self._known.clear()
        self._known.update((s.counter, s.window_start) for s in missing)

    async def reserve(self, holds: Sequence[tuple[LimitSubject, int]]) -> Reservation:
        if not holds:
            return Reservation()
        ordered = sorted(holds, key=lambda h: (h[0].counter, h[0].window_start))  # no deadlocks
        await self._ensure_rows(s for s, _ in ordered)
        now = utcnow()
        async with self._engine.begin() as connection:
            for subject, amount in ordered:
                params = {
                    "subject": subject.counter,
                    "window": subject.window_start,
                    "amount": amount,
                    "floor": 0 if amount > 0 else 1,
                    "now": now,
                }
                if subject.is_balance:
                    # Lock first so the balance sum below is read after any concurrent flush commits.
                    await connection.execute(_LOCK, params)
                    row = (
                        await connection.execute(_RESERVE_BALANCE, {**params, "org": subject.scope_id})
                    ).first()
                else:
                    row = (
                        await connection.execute(_RESERVE_LIMIT, {**params, "limit": subject.limit_nanos})
                    ).first()
                if row is None:
                    used = None
                    if not subject.is_balance:
                        used = (await connection.execute(_USED, params)).scalar_one_or_none()
                    await connection.rollback()
                    raise _refuse(subject, used)
        return Reservation(list(ordered))

    async def settle_in(self, session: AsyncSession, settlements: Sequence[Settlement]) -> None:
        now = utcnow()
        for (counter, window), (_subject, held, spent) in sorted(_aggregate(settlements).items()):
            await session.execute(
                _SETTLE, {"subject": counter, "window": window, "held": held, "spent": spent, "now": now}
            )

    def after_commit(self, settlements: Sequence[Settlement]) -> None:
        return None

    async def release_stale(self, older_than_seconds: float) -> int:
        """Zero reservations on counters untouched for longer than any request can live (crash leftovers)."""
        now = utcnow()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                _RELEASE_STALE, {"now": now, "cutoff": now - timedelta(seconds=older_than_seconds)}
            )
        return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------------------------------------
# SQLite: one process owns the database, counters live in memory.


@dataclass(slots=True)
class _Counter:
    spent: int = 0
    reserved: int = 0


@dataclass(slots=True)
class _Balance:
    balance: int = 0
    reserved: int = 0
    loaded_at: float = -math.inf
    generation: int = 0


class MemorySpendLedger:
    """In-process counters seeded from the rollups once per window; the balance re-read every TTL."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], balance_ttl_seconds: float) -> None:
        self._sessions = sessions
        self._ttl = balance_ttl_seconds
        self._counters: dict[tuple[str, datetime], _Counter] = {}
        self._balances: dict[str, _Balance] = {}
        self._lock = asyncio.Lock()

    async def _prepare(self, subjects: Iterable[LimitSubject]) -> None:
        """Seed missing counters and refresh stale balances (awaits happen only here)."""
        now = time.monotonic()
        todo = [
            s
            for s in subjects
            if (s.is_balance and now - self._balances.get(s.scope_id, _Balance()).loaded_at >= self._ttl)
            or (not s.is_balance and (s.counter, s.window_start) not in self._counters)
        ]
        if not todo:
            return
        async with self._lock, self._sessions() as session:
            for subject in todo:
                if subject.is_balance:
                    state = self._balances.setdefault(subject.scope_id, _Balance())
                    if time.monotonic() - state.loaded_at < self._ttl:
                        continue
                    generation = state.generation
                    value = await ledger_balance(session, subject.scope_id)
                    if state.generation == generation:  # no flush committed meanwhile
                        state.balance = value
                        state.loaded_at = time.monotonic()
                elif (subject.counter, subject.window_start) not in self._counters:
                    spent = await seed_spent(session, subject)
                    self._counters[(subject.counter, subject.window_start)] = _Counter(spent=spent)

    async def reserve(self, holds: Sequence[tuple[LimitSubject, int]]) -> Reservation:
        if not holds:
            return Reservation()
        await self._prepare(s for s, _ in holds)
        # From here to the end: no await, so the check and the update are one atomic step.
        for subject, amount in holds:
            floor = 0 if amount > 0 else 1
            if subject.is_balance:
                state = self._balances[subject.scope_id]
                if state.balance - state.reserved - amount < floor:
                    raise _refuse(subject)
            else:
                counter = self._counters.get((subject.counter, subject.window_start)) or _Counter()
                assert subject.limit_nanos is not None
                if subject.limit_nanos - counter.spent - counter.reserved - amount < floor:
                    raise _refuse(subject, counter.spent + counter.reserved)
        for subject, amount in holds:
            if subject.is_balance:
                self._balances[subject.scope_id].reserved += amount
            else:
                self._counters.setdefault(
                    (subject.counter, subject.window_start), _Counter()
                ).reserved += amount
        return Reservation(list(holds))

    async def settle_in(self, session: AsyncSession, settlements: Sequence[Settlement]) -> None:
        return None

    def after_commit(self, settlements: Sequence[Settlement]) -> None:
        """The batch's usage and ledger debits are committed: move held amounts to spent."""
        for (counter_name, window), (subject, held, spent) in _aggregate(settlements).items():
            if subject.is_balance:
                continue
            counter = self._counters.get((counter_name, window))
            if counter is not None:
                counter.reserved = max(0, counter.reserved - held)
                counter.spent += spent
        for settlement in settlements:
            for subject, held in settlement.reservation.holds:
                if subject.is_balance:
                    state = self._balances.get(subject.scope_id)
                    if state is not None:
                        state.reserved = max(0, state.reserved - held)
                        state.balance -= 0 if settlement.is_byok else settlement.actual_nanos
                        state.generation += 1

    async def release_stale(self, older_than_seconds: float) -> int:
        return 0
