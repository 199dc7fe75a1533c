"""Charge what dead gateway processes served but never flushed, from their usage journals.

A finished request is written as its own flush would have written it (exact usage and cost); a
request still in flight when the process died is charged its reserved worst case, as a crash
settlement (usage record with status 0 and `CRASH_ERROR`, ledger debit noted `CRASH_NOTE`). What
is already in the database (the batch committed before the kill) is recognized and skipped, so a
recovery never charges twice, and may run again after being interrupted itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.gateway.journal import ADMIT_FIELDS, DONE_FIELDS, LOCK_SUFFIX, TAGS_FIELD, segments_of
from keyplane.gateway.spend_reservations import Reservation, Settlement, settle_counters
from keyplane.gateway.subjects import LimitSubject
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.tags import TAG
from keyplane.models import UsageRecord
from keyplane.usage.writer import UsageEvent, write_usage_batch

logger = logging.getLogger("keyplane.gateway.crash_recovery")

CRASH_STATUS = 0  # no answer is known
CRASH_ERROR = "crash settlement: the gateway process ended before this request's usage was known"
CRASH_NOTE = "crash settlement: reserved worst case of requests a killed gateway process had in flight"
RECOVERED_NOTE = "gateway usage (recovered from a killed gateway process's journal)"
CHUNK = 1000  # requests per recovery transaction


@dataclass(slots=True)
class JournalEntry:
    """One request of a dead journal: its reservation line, its usage line, or both."""

    seq: int
    admit: dict[str, Any] | None = None
    done: list[Any] | None = None


async def recover_crashed(
    directory: Path, sessions: async_sessionmaker[AsyncSession], *, own: str | None, stale_seconds: float
) -> int:
    """Settle every journal in `directory` whose process is gone; returns the requests charged."""
    settled = 0
    for instance in _instances(directory, own):
        claimed = _claim(directory, instance)
        if claimed is None:  # its process is alive, or another one is settling it
            continue
        fd, segments = claimed
        try:
            entries, newest = read_journal(segments)
            # The dead process's leases are still reserved unless the janitor released them as stale.
            fresh = newest is not None and time.time() - newest < stale_seconds
            settled += await settle_entries(sessions, entries, shrink=fresh)
            _remove(directory, instance, segments)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
    return settled


def _instances(directory: Path, own: str | None) -> list[str]:
    """Processes with a journal here (a lock file), except this one."""
    if not directory.is_dir():
        return []
    names = (lock.name.removesuffix(LOCK_SUFFIX) for lock in directory.glob(f"*{LOCK_SUFFIX}"))
    return sorted(name for name in names if name != own and not name.startswith("."))


def _claim(directory: Path, instance: str) -> tuple[int, list[Path]] | None:
    """Its lock, when free (the process is gone), and its segments; None while someone holds it."""
    try:
        fd = os.open(directory / f"{instance}{LOCK_SUFFIX}", os.O_RDWR)
    except FileNotFoundError:  # settled by another process meanwhile
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd, segments_of(directory, instance)


def _remove(directory: Path, instance: str, segments: Sequence[Path]) -> None:
    """Settled: segments first, the lock file last (a later recoverer finds nothing or all)."""
    for path in segments:
        path.unlink(missing_ok=True)
    (directory / f"{instance}{LOCK_SUFFIX}").unlink(missing_ok=True)


def read_journal(segments: Sequence[Path]) -> tuple[dict[int, JournalEntry], float | None]:
    """Entries by sequence number over every segment (a line cut by the kill is skipped), and the
    newest segment's modification time."""
    entries: dict[int, JournalEntry] = {}
    newest: float | None = None
    for path in segments:
        try:
            data = path.read_bytes()
            modified = path.stat().st_mtime
        except FileNotFoundError:
            continue
        newest = modified if newest is None else max(newest, modified)
        for raw in data.splitlines():
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(line, dict) and isinstance(line.get("a"), int):
                entries.setdefault(line["a"], JournalEntry(line["a"])).admit = line
            elif (
                isinstance(line, dict) and isinstance(line.get("d"), int) and isinstance(line.get("v"), list)
            ):
                entries.setdefault(line["d"], JournalEntry(line["d"])).done = line["v"]
    return entries, newest


async def settle_entries(
    sessions: async_sessionmaker[AsyncSession], entries: dict[int, JournalEntry], *, shrink: bool
) -> int:
    """Write what is not in the database yet, a transaction per `CHUNK` requests."""
    ordered = [entries[seq] for seq in sorted(entries)]
    charged = 0
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        async with sessions() as session:
            exact, crashed, settlements = await _unwritten(session, chunk)
            await write_usage_batch(session, exact, note=RECOVERED_NOTE)
            await write_usage_batch(session, crashed, note=CRASH_NOTE)
            await settle_counters(session, settlements, shrink=shrink)
            await session.commit()
        charged += len(exact) + len(crashed)
        if exact or crashed:
            logger.warning(
                "settled a killed gateway process's journal: %d requests exactly, %d in flight at "
                "their reserved worst case ($%.6f)",
                len(exact),
                len(crashed),
                nanos_to_usd(sum(event.cost_nanousd for event in crashed)),
            )
    return charged


async def _unwritten(
    session: AsyncSession, chunk: Sequence[JournalEntry]
) -> tuple[list[UsageEvent], list[UsageEvent], list[Settlement]]:
    """The chunk's usage events not in usage_records yet: (exact, crash settlements, settlements)."""
    candidates: list[tuple[UsageEvent, Reservation, bool]] = []
    for entry in chunk:
        if entry.admit is None:  # a finished line alone (never written so): nothing to charge it to
            continue
        reservation = Reservation(_holds(entry.admit["h"]))
        event = finished_event(entry.admit, entry.done) if entry.done is not None else None
        if event is not None:
            candidates.append((event, reservation, True))
        else:
            candidates.append((_crash_event(entry.admit, reservation), reservation, False))
    written = await _written(session, [event for event, _, _ in candidates])
    exact: list[UsageEvent] = []
    crashed: list[UsageEvent] = []
    settlements: list[Settlement] = []
    for event, reservation, known in candidates:
        if written.has(event, exact=known):
            continue
        (exact if known else crashed).append(event)
        settlements.append(Settlement(reservation, event.cost_nanousd, event.is_byok))
    return exact, crashed, settlements


@dataclass(slots=True)
class _Written:
    exact: set[tuple[str, str, datetime]]  # (request id, key id, created_at) of written records
    latest: dict[tuple[str, str], datetime]  # (request id, key id) -> the newest record's created_at

    def has(self, event: UsageEvent, *, exact: bool) -> bool:
        """A finished request by its exact record; one in flight by any record of its request id
        and key since it was admitted (written although its usage line was lost)."""
        if exact:
            return (event.request_id, event.key_id, event.created_at) in self.exact
        latest = self.latest.get((event.request_id, event.key_id))
        return latest is not None and latest >= event.created_at


async def _written(session: AsyncSession, events: Sequence[UsageEvent]) -> _Written:
    """Records of these requests (by request id and key, since the earliest) already written."""
    found = _Written(set(), {})
    if not events:
        return found
    since = min(event.created_at for event in events)
    keys = sorted({event.key_id for event in events})
    rows = await session.execute(
        select(UsageRecord.request_id, UsageRecord.key_id, UsageRecord.created_at).where(
            UsageRecord.key_id.in_(keys), UsageRecord.created_at >= since
        )
    )
    for request_id, key_id, created_at in rows:
        found.exact.add((request_id, key_id, created_at))
        pair = (request_id, key_id)
        if pair not in found.latest or created_at > found.latest[pair]:
            found.latest[pair] = created_at
    return found


def _holds(raw: list[list[Any]]) -> list[tuple[LimitSubject, int]]:
    """The journaled holds as subjects again (only what settlement reads: counter, window, kind)."""
    return [
        (
            LimitSubject(
                counter=counter,
                window_start=datetime.fromisoformat(window),
                limit_nanos=limit,
                scope="",
                scope_id="",
                counts_byok=byok,
                counts_platform=platform,
                description="",
                resets_at=None,
            ),
            amount,
        )
        for counter, window, limit, byok, platform, amount in raw
    ]


def finished_event(admit: dict[str, Any], done: list[Any]) -> UsageEvent | None:
    """The usage event a finished request's flush would have written; None when unreadable."""
    try:
        values = dict(zip(DONE_FIELDS, done, strict=True))
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        fields = {name: admit[short] for name, short in ADMIT_FIELDS.items() if short != TAGS_FIELD}
        return UsageEvent(**fields, **values, tags=journaled_tags(admit))
    except (KeyError, TypeError, ValueError):
        logger.warning("unreadable usage line in a killed process's journal: charged at its worst case")
        return None


def _crash_event(admit: dict[str, Any], reservation: Reservation) -> UsageEvent:
    """A request in flight at the kill: its worst case, on the balance when it held one."""
    platform = admit.get("p")
    if platform is None:
        platform = any(subject.is_balance for subject, _ in reservation.holds)
    return UsageEvent(
        request_id=admit["r"],
        org_id=admit["o"],
        workspace_id=admit["w"],
        key_id=admit["k"],
        user_id=admit["u"],
        model=admit["m"],
        is_byok=not platform,
        cost_nanousd=admit["c"],
        status_code=CRASH_STATUS,
        streamed=admit["s"],
        error=CRASH_ERROR,
        created_at=datetime.fromisoformat(admit["t"]),
        tags=journaled_tags(admit),
    )


def journaled_tags(admit: dict[str, Any]) -> tuple[str, ...] | None:
    """The tags of an admission line (validated when admitted); anything unreadable is no tags."""
    raw = admit.get(TAGS_FIELD)
    if not isinstance(raw, list) or not raw:
        return None
    tags = tuple(tag for tag in raw if isinstance(tag, str) and TAG.fullmatch(tag))
    return tags or None
