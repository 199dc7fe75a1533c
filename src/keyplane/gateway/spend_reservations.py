"""Reserve the worst-case cost on every limit before a request, settle the real cost after.

Counters live in spend_counters (one row per limit subject and window), shared by every process
on the database, PostgreSQL or SQLite. Requests reserve from per-process leases in memory (see
`SqlSpendLedger`); settlement is batched: the usage flusher applies `spent += actual` and shrinks
the lease in the same transaction that writes the usage records and the ledger debits, so spend
is never under-counted and a crash can only leave a reservation over-counted (cleared by
`release_stale` later). What a killed process served but had not flushed is settled from its
journal (gateway/journal.py, gateway/crash_recovery.py) through `settle_counters`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, false, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from keyplane.errors import PaymentRequired
from keyplane.gateway.subjects import LimitSubject
from keyplane.models import UsageRollup
from keyplane.models.base import UTCDateTime, utcnow


@dataclass(slots=True)
class Reservation:
    """What one request holds: (subject, nano-USD) pairs, released by its settlement."""

    holds: list[tuple[LimitSubject, int]] = field(default_factory=list)


@dataclass(slots=True)
class Settlement:
    reservation: Reservation
    actual_nanos: int
    is_byok: bool
    journal_seq: int = 0  # the request's lines in the usage journal, dropped once its batch commits


class SpendLedger(Protocol):
    async def reserve(self, holds: Sequence[tuple[LimitSubject, int]]) -> Reservation: ...

    def release_unused(self, settlement: Settlement) -> None: ...

    async def settle_in(self, session: AsyncSession, settlements: Sequence[Settlement]) -> None: ...

    def after_commit(self, settlements: Sequence[Settlement]) -> None: ...

    def abort(self, settlements: Sequence[Settlement]) -> None: ...

    async def release_free(self) -> None: ...

    async def release_stale(self, older_than_seconds: float) -> int: ...


class SpendRefused(PaymentRequired):
    """A limit cannot hold a request's worst case: which one, what it has left, what was needed."""

    def __init__(self, subject: LimitSubject, left: int | None = None, needed: int | None = None) -> None:
        code = "insufficient_balance" if subject.is_balance else "limit_exceeded"
        super().__init__(subject.refusal_message(left, needed), code=code)
        self.subject = subject
        self.left = left
        self.needed = needed


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


def _aggregate(
    settlements: Iterable[Settlement], *, balance_spends: bool = False
) -> dict[tuple[str, datetime], tuple[LimitSubject, int, int]]:
    """(counter, window) -> (subject, held total, spent total) over a batch; the balance's spend
    is the platform cost when `balance_spends`, else 0 (the ledger debit accounts for it)."""
    totals: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    subjects: dict[tuple[str, datetime], LimitSubject] = {}
    for settlement in settlements:
        for subject, held in settlement.reservation.holds:
            key = (subject.counter, subject.window_start)
            subjects[key] = subject
            totals[key][0] += held
            if subject.applies(settlement.is_byok) and (balance_spends or not subject.is_balance):
                totals[key][1] += settlement.actual_nanos
    return {key: (subjects[key], held, spent) for key, (held, spent) in totals.items()}


# ---------------------------------------------------------------------------------------------
# Shared by every process on the database, through leases.
#
# An instance does not write to the database per request. It reserves a *lease* on a counter
# (`reserved += grant`, granted only while `spent + reserved + grant <= limit`), serves requests
# from the lease in memory, converts the used part into `spent` when their usage is flushed, and
# hands every unused part back after each flush. The sum of all leases never exceeds what the
# limit has left, so instances together never overspend; a crashed instance's lease stays
# reserved (over-counted) until `release_stale` clears it.

LEASE_FACTOR = 256  # a lease covers up to this many worst cases of the request that asked for it
LEASE_SHARE = 4  # ... and at most a quarter of what is left, so other instances get their share

_TIMES = (bindparam("window", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
_SEED = text(
    "INSERT INTO spend_counters (subject, window_start, spent_nanousd, reserved_nanousd, updated_at) "
    "VALUES (:subject, :window, :spent, 0, :now) ON CONFLICT DO NOTHING"
).bindparams(*_TIMES)
_READ_ROW = (
    "SELECT spent_nanousd, reserved_nanousd FROM spend_counters "
    "WHERE subject = :subject AND window_start = :window"
)
# PostgreSQL locks the row first, so the conditional UPDATE below reads the ledger after any
# concurrent flush committed; SQLite's single writer makes each UPDATE atomic by itself.
_LOCK_ROW = text(_READ_ROW + " FOR UPDATE").bindparams(_TIMES[0])
_READ = text(_READ_ROW).bindparams(_TIMES[0])
_BALANCE = text("SELECT COALESCE(SUM(amount_nanousd), 0) FROM ledger_entries WHERE org_id = :org")
_GROW_LIMIT = text(
    "UPDATE spend_counters SET reserved_nanousd = reserved_nanousd + :grant, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window "
    "AND CAST(:limit AS BIGINT) - spent_nanousd - reserved_nanousd >= :grant"
).bindparams(*_TIMES)
_GROW_BALANCE = text(
    "UPDATE spend_counters SET reserved_nanousd = reserved_nanousd + :grant, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window "
    "AND (SELECT COALESCE(SUM(amount_nanousd), 0) FROM ledger_entries WHERE org_id = :org) "
    "- reserved_nanousd >= :grant"
).bindparams(*_TIMES)
_SHRINK = text(
    "UPDATE spend_counters SET reserved_nanousd = CASE WHEN reserved_nanousd > :amount "
    "THEN reserved_nanousd - :amount ELSE 0 END, "
    "spent_nanousd = spent_nanousd + :spent, updated_at = :now "
    "WHERE subject = :subject AND window_start = :window"
).bindparams(*_TIMES)
_RELEASE_STALE = text(
    "UPDATE spend_counters SET reserved_nanousd = 0, updated_at = :now "
    "WHERE reserved_nanousd <> 0 AND updated_at < :cutoff"
).bindparams(_TIMES[1], bindparam("cutoff", type_=UTCDateTime()))


async def settle_counters(session: AsyncSession, settlements: Sequence[Settlement], *, shrink: bool) -> None:
    """Charge settlements of another (dead) process: `spent += actual`, and when `shrink`, take
    the same amount off `reserved`, as that process's own flush would have done."""
    await _convert(session, list(_aggregate(settlements, balance_spends=True).values()), shrink=shrink)


async def _convert(
    session: AsyncSession, deltas: Sequence[tuple[LimitSubject, int, int]], *, shrink: bool
) -> None:
    """Turn each subject's actual cost from reserved into spent (the balance's spent stays 0: its
    ledger debit carries it), in the caller's transaction, rows in a fixed order."""
    now = utcnow()
    for subject, _held, spent in sorted(deltas, key=lambda d: (d[0].counter, d[0].window_start)):
        if spent:
            await session.execute(
                _SHRINK,
                {
                    "subject": subject.counter,
                    "window": subject.window_start,
                    "amount": spent if shrink else 0,
                    "spent": 0 if subject.is_balance else spent,
                    "now": now,
                },
            )


@dataclass(slots=True)
class _Lease:
    lease: int = 0  # reserved in the database on this instance's behalf
    held: int = 0  # worst cases of requests in flight or not yet flushed

    @property
    def free(self) -> int:
        return self.lease - self.held


@dataclass(slots=True)
class _Shortfall:
    subject: LimitSubject
    left: int  # what this instance could still take: the limit's remainder, less other leases
    needed: int  # the request's worst case on this subject
    others: int  # reserved by other instances (their leases come back after their next flush)


class SqlSpendLedger:
    """Counters in spend_counters, reserved through per-instance leases (few transactions per second)."""

    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], *, retry_wait_seconds: float
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._retry_wait = min(max(retry_wait_seconds * 2, 0.05), 1.0)
        self._known: set[tuple[str, datetime]] = set()
        self._leases: dict[tuple[str, datetime], _Lease] = {}
        self._acquiring = asyncio.Lock()

    def _state(self, subject: LimitSubject) -> _Lease:
        key = (subject.counter, subject.window_start)
        state = self._leases.get(key)
        if state is None:
            state = self._leases[key] = _Lease()
        return state

    async def reserve(self, holds: Sequence[tuple[LimitSubject, int]]) -> Reservation:
        if not holds:
            return Reservation()
        # At least one nano-USD, so a free model is still refused once a limit is used up.
        wanted = [(subject, max(amount, 1)) for subject, amount in holds]
        for attempt in range(3):
            if all(self._state(s).free >= a for s, a in wanted):
                for subject, amount in wanted:  # no await since the check: atomic in this process
                    self._state(subject).held += amount
                return Reservation(wanted)
            async with self._acquiring:
                short = [(s, a) for s, a in wanted if self._state(s).free < a]
                shortfall = await self._acquire(short) if short else None
            if shortfall is not None:
                if shortfall.others > 0 and attempt == 0:
                    await asyncio.sleep(self._retry_wait)  # other instances hand back unused leases
                    continue
                raise SpendRefused(shortfall.subject, shortfall.left, shortfall.needed)
        raise SpendRefused(wanted[0][0])

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

    async def _acquire(self, short: Sequence[tuple[LimitSubject, int]]) -> _Shortfall | None:
        """Grow the short subjects' leases in one transaction; returns the first that cannot grow."""
        await self._ensure_rows(s for s, _ in short)
        now = utcnow()
        granted: list[tuple[LimitSubject, int]] = []
        shortfall: _Shortfall | None = None
        lock = _LOCK_ROW if self._engine.dialect.name == "postgresql" else _READ
        async with self._engine.begin() as connection:
            for subject, amount in sorted(short, key=lambda h: (h[0].counter, h[0].window_start)):
                params = {"subject": subject.counter, "window": subject.window_start, "now": now}
                row = (await connection.execute(lock, params)).first()
                if row is None:  # deleted meanwhile: recreated on the next attempt
                    self._known.discard((subject.counter, subject.window_start))
                    continue
                spent, reserved = int(row[0]), int(row[1])
                if subject.is_balance:
                    cap = int((await connection.execute(_BALANCE, {"org": subject.scope_id})).scalar_one())
                else:
                    assert subject.limit_nanos is not None
                    cap = subject.limit_nanos - spent
                available = cap - reserved
                state = self._state(subject)
                need = amount - state.free
                if available < need:
                    if shortfall is None:
                        left = available + state.free
                        shortfall = _Shortfall(subject, left, amount, max(0, reserved - state.lease))
                    continue
                grant = min(available, max(need, min(available // LEASE_SHARE, amount * LEASE_FACTOR)))
                if subject.is_balance:
                    grow = _GROW_BALANCE
                    extra: dict[str, object] = {"org": subject.scope_id}
                else:
                    grow, extra = _GROW_LIMIT, {"limit": subject.limit_nanos}
                result = await connection.execute(grow, {**params, **extra, "grant": grant})
                if getattr(result, "rowcount", 0) == 1:  # 0: another process won the race; retried
                    granted.append((subject, grant))
        for subject, grant in granted:
            self._state(subject).lease += grant
        return shortfall

    def release_unused(self, settlement: Settlement) -> None:
        """The request is done: its lease keeps only the real cost until the flush charges it, so
        the next request (even before that flush) sees the limit minus real spend, not the worst case."""
        charged_holds: list[tuple[LimitSubject, int]] = []
        for subject, held in settlement.reservation.holds:
            charged = settlement.actual_nanos if subject.applies(settlement.is_byok) else 0
            self._state(subject).held += charged - held
            charged_holds.append((subject, charged))
        settlement.reservation.holds = charged_holds

    def _settlement_deltas(self, settlements: Sequence[Settlement]) -> list[tuple[LimitSubject, int, int]]:
        """Per subject: (held total to release, actual cost converted from lease into spent)."""
        return [
            (subject, held, spent)
            for subject, held, spent in _aggregate(settlements, balance_spends=True).values()
        ]

    async def settle_in(self, session: AsyncSession, settlements: Sequence[Settlement]) -> None:
        deltas = self._settlement_deltas(settlements)
        for subject, held, spent in deltas:  # local first, before any await; abort() undoes it
            state = self._state(subject)
            state.held = max(0, state.held - held)
            state.lease = max(0, state.lease - spent)
        await _convert(session, deltas, shrink=True)

    def after_commit(self, settlements: Sequence[Settlement]) -> None:
        return None

    def abort(self, settlements: Sequence[Settlement]) -> None:
        for subject, held, spent in self._settlement_deltas(settlements):
            state = self._state(subject)
            state.held += held
            state.lease += spent

    async def release_free(self) -> None:
        """Hand every unused lease back, so other instances (and changed limits) see it at once."""
        returns = [(key, state.free) for key, state in self._leases.items() if state.free > 0]
        if not returns:
            self._prune()
            return
        for key, free in returns:
            self._leases[key].lease -= free
        try:
            now = utcnow()
            async with self._engine.begin() as connection:
                for (counter, window), free in sorted(returns):
                    await connection.execute(
                        _SHRINK,
                        {"subject": counter, "window": window, "amount": free, "spent": 0, "now": now},
                    )
        except BaseException:
            for key, free in returns:
                self._state_by_key(key).lease += free
            raise
        self._prune()

    def _state_by_key(self, key: tuple[str, datetime]) -> _Lease:
        return self._leases.setdefault(key, _Lease())

    def _prune(self) -> None:
        if len(self._leases) > 1000:
            for key in [k for k, v in self._leases.items() if v.lease == 0 and v.held == 0]:
                del self._leases[key]

    async def release_stale(self, older_than_seconds: float) -> int:
        """Zero reservations on counters untouched for longer than any request can live (crash leftovers)."""
        now = utcnow()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                _RELEASE_STALE, {"now": now, "cutoff": now - timedelta(seconds=older_than_seconds)}
            )
        return int(getattr(result, "rowcount", 0) or 0)
