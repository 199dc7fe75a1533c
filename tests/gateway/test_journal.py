"""The usage journal and its recovery, in process: what a file keeps, whose journal is settled, and
that settling twice (a recovery interrupted after its commit) still charges once."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from keyplane.billing.ledger import balance_nanos
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.gateway import journal as journal_module
from keyplane.gateway.crash_recovery import CRASH_STATUS, finished_event, read_journal, recover_crashed
from keyplane.gateway.journal import ADMIT_FIELDS, DONE_FIELDS, UsageJournal, journal_directory, segments_of
from keyplane.gateway.key_cache import KeyRecord
from keyplane.gateway.subjects import EPOCH, LimitSubject, balance_subject
from keyplane.models import SpendCounter, UsageRecord
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.writer import UsageEvent

WORST = 5_000
COST = 1_200


@dataclass
class _Org:
    org_id: str = "org"
    workspace_id: str = "workspace"


NO_ORG = _Org()  # for journals no database reads


def _key(org: BootstrapResult | _Org, key_id: str = "key-1") -> KeyRecord:
    return KeyRecord(
        id=key_id,
        hash="h",
        kind="inference",
        org_id=org.org_id,
        workspace_id=org.workspace_id,
        user_id=None,
        disabled=False,
        revoked=False,
        expires_at=None,
        limit_nanousd=None,
        limit_reset=None,
        include_byok_in_limit=False,
        allowed_models=None,
        rate_limit_rpm=None,
        rate_limit_tpm=None,
    )


def _event(key: KeyRecord, request_id: str, cost: int = COST) -> UsageEvent:
    return UsageEvent(
        request_id=request_id,
        org_id=key.org_id,
        workspace_id=key.workspace_id,
        key_id=key.id,
        model="m",
        provider="vllm",
        prompt_tokens=3,
        completion_tokens=4,
        cost_nanousd=cost,
    )


def _admit(
    journal: UsageJournal, key: KeyRecord, request_id: str, holds: list[tuple[LimitSubject, int]]
) -> int:
    return journal.admitted(key, request_id=request_id, model="m", streamed=False, worst=WORST, holds=holds)


def _dead(journal: UsageJournal) -> None:
    """What a SIGKILL does to a journal: its descriptors close (the lock is free), its files stay."""
    journal._release()


async def _records(context: AppContext) -> list[UsageRecord]:
    async with context.sessions() as session:
        return list((await session.execute(select(UsageRecord).order_by(UsageRecord.id))).scalars())


async def _counter(context: AppContext, subject: str) -> tuple[int, int]:
    async with context.sessions() as session:
        row = (
            await session.execute(select(SpendCounter).where(SpendCounter.subject == subject))
        ).scalar_one()
        return row.spent_nanousd, row.reserved_nanousd


async def _seed_counter(context: AppContext, subject: str, reserved: int) -> None:
    async with context.sessions() as session:
        session.add(
            SpendCounter(subject=subject, window_start=EPOCH, spent_nanousd=0, reserved_nanousd=reserved)
        )
        await session.commit()


def test_the_file_keeps_only_uncommitted_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = UsageJournal.open(tmp_path / "db" / "dir" / "j")
    assert journal is not None
    key = _key(NO_ORG)
    seqs = [_admit(journal, key, f"r{i}", []) for i in range(3)]
    journal.done(seqs[0], _event(key, "r0"))
    journal.done(seqs[1], _event(key, "r1"))
    journal.committed([seqs[0]])
    monkeypatch.setattr(journal_module, "COMPACT_BYTES", 1)
    monkeypatch.setattr(journal_module, "COMPACT_RATIO", 1)
    journal.compact()

    segments = segments_of(journal.directory, journal.instance)
    assert len(segments) == 1
    entries, _ = read_journal(segments)
    assert sorted(entries) == seqs[1:]
    assert entries[seqs[1]].done is not None and entries[seqs[2]].done is None

    journal.committed(seqs)
    journal.compact()
    assert segments_of(journal.directory, journal.instance)[0].stat().st_size == 0
    journal.close()
    assert list(journal.directory.iterdir()) == []


def test_a_journal_that_cannot_write_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = UsageJournal.open(tmp_path / "a" / "b" / "j")
    assert journal is not None
    assert _admit(journal, _key(NO_ORG), "r0", []) == 1

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", full)
    assert _admit(journal, _key(NO_ORG), "r1", []) == 0
    monkeypatch.undo()
    assert not journal.enabled and list(journal.directory.iterdir()) == []
    assert _admit(journal, _key(NO_ORG), "r2", []) == 0  # and stays off: no partial journal


def test_no_journal_where_the_data_directory_cannot_hold_one(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert UsageJournal.open(blocker / "usage-journal" / "db") is None


def test_each_database_has_its_own_journal_directory(tmp_path: Path) -> None:
    first = journal_directory(Settings(data_dir=tmp_path, database_url="postgresql://u:one@db/a"))
    rotated = journal_directory(Settings(data_dir=tmp_path, database_url="postgresql://u:two@db/a"))
    other = journal_directory(Settings(data_dir=tmp_path, database_url="postgresql://u:one@db/b"))
    assert first == rotated != other  # a password change keeps it
    assert first.parent == tmp_path / "usage-journal"


async def test_a_living_process_s_journal_is_left_alone(
    context: AppContext, org: BootstrapResult, tmp_path: Path
) -> None:
    journal = UsageJournal.open(tmp_path / "x" / "y" / "j")
    assert journal is not None
    key = _key(org)
    journal.done(_admit(journal, key, "r0", [(balance_subject(org.org_id), WORST)]), _event(key, "r0"))

    assert await recover_crashed(journal.directory, context.sessions, own=None, stale_seconds=900) == 0
    assert await _records(context) == []
    assert len(list(journal.directory.iterdir())) == 2
    journal.committed([1])
    journal.close()


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "stale"])
async def test_a_dead_journal_is_charged_once_even_when_its_recovery_runs_twice(
    context: AppContext, org: BootstrapResult, tmp_path: Path, fresh: bool
) -> None:
    balance = balance_subject(org.org_id)
    await _seed_counter(context, balance.counter, reserved=10 * WORST)
    journal = UsageJournal.open(tmp_path / "x" / "y" / "j")
    assert journal is not None
    key = _key(org)
    journal.done(_admit(journal, key, "finished", [(balance, WORST)]), _event(key, "finished"))
    await asyncio.sleep(0)  # the loop's next turn writes its line
    _admit(journal, key, "in-flight", [(balance, WORST)])
    _admit(journal, _key(org, "byok-key"), "byok-in-flight", [])
    journal.done(_admit(journal, key, "finished-unwritten", [(balance, WORST)]), _event(key, "x"))
    _dead(journal)  # before the loop turned: that last line never reached the file
    if not fresh:  # older than the stale period: the janitor releases its reservations instead
        for path in segments_of(journal.directory, journal.instance):
            os.utime(path, (0, 0))
    copy = tmp_path / "copy"
    shutil.copytree(journal.directory, copy)
    before = await _balance(context, org)

    settled = await recover_crashed(journal.directory, context.sessions, own=None, stale_seconds=900)
    assert settled == 4 and list(journal.directory.iterdir()) == []
    # the recoverer was killed after its commit, before removing the files: they are back
    shutil.copytree(copy, journal.directory, dirs_exist_ok=True)
    assert await recover_crashed(journal.directory, context.sessions, own=None, stale_seconds=900) == 0

    rows = {r.request_id: r for r in await _records(context)}
    assert sorted(rows) == ["byok-in-flight", "finished", "finished-unwritten", "in-flight"]
    assert (rows["finished"].status_code, rows["finished"].cost_nanousd) == (200, COST)
    for name in ("in-flight", "finished-unwritten"):  # never lost: charged their worst case
        assert (rows[name].status_code, rows[name].cost_nanousd) == (CRASH_STATUS, WORST)
    assert rows["in-flight"].is_byok is False and rows["byok-in-flight"].is_byok is True
    assert before - await _balance(context, org) == COST + 2 * WORST  # BYOK is not debited
    spent, reserved = await _counter(context, balance.counter)
    assert spent == 0  # the balance's spend is its ledger debits
    assert reserved == (10 * WORST - COST - 2 * WORST if fresh else 10 * WORST)


def test_a_finished_line_and_its_admission_give_back_the_whole_usage_event(tmp_path: Path) -> None:
    assert set(ADMIT_FIELDS) | set(DONE_FIELDS) == {f.name for f in fields(UsageEvent)}
    journal = UsageJournal.open(tmp_path / "a" / "b" / "c")
    assert journal is not None
    key = _key(NO_ORG)
    seq = journal.admitted(
        key, request_id="req", model="m", streamed=True, worst=WORST, holds=[], tags=("team-a", "x:1")
    )
    event = UsageEvent(
        request_id="req",
        org_id=key.org_id,
        workspace_id=key.workspace_id,
        key_id=key.id,
        user_id=key.user_id,
        model="m",
        provider="vllm",
        credential_id="cred",
        is_byok=True,
        prompt_tokens=1,
        completion_tokens=2,
        cached_tokens=3,
        cost_nanousd=4,
        latency_ms=5,
        status_code=499,
        streamed=True,
        error="cancelled",
        tags=("team-a", "x:1"),
    )
    journal.done(seq, event)
    entries, _ = read_journal(segments_of(journal.directory, journal.instance))
    admit, done = entries[seq].admit, entries[seq].done
    assert admit is not None and done is not None
    assert finished_event(admit, done) == event
    del admit["g"]  # a line journaled before tags existed still gives back its event, untagged
    assert finished_event(admit, done) == replace(event, tags=None)
    journal.committed([seq])
    journal.close()


async def _balance(context: AppContext, org: BootstrapResult) -> int:
    async with context.sessions() as session:
        return await balance_nanos(session=session, org_id=org.org_id)
