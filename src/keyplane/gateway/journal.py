"""A per-process journal of requests whose usage is not committed yet, so a SIGKILL loses none.

Each admitted request appends a line (its holds and worst case) with a plain `os.write` before it
is forwarded; the kernel keeps it across a SIGKILL (not across a power loss or a lost disk). Each
finished one adds a second line (the rest of its usage event), written with the next admission or
at the event loop's next turn: a kill before that charges the request its worst case instead of
its exact cost, so nothing is lost either way. A request's lines leave memory when
its batch commits; after each flush the file is emptied when nothing is live, or rewritten to the
live lines once it passes `COMPACT_BYTES` and `COMPACT_RATIO` times their size (so rewriting costs
at most a fraction of the appends). The process holds an exclusive `flock` on
`<instance>.lock` for its whole life: a journal whose lock is free belongs to a dead process, and
`gateway.crash_recovery` settles it. Nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson
from sqlalchemy.engine import make_url

from keyplane.config import PRIVATE_FILE_MODE, Settings, make_private_dir
from keyplane.gateway.key_cache import KeyRecord
from keyplane.gateway.subjects import LimitSubject
from keyplane.models.base import utcnow
from keyplane.usage.writer import UsageEvent

logger = logging.getLogger("keyplane.gateway.journal")

JOURNAL_DIR = "usage-journal"
COMPACT_BYTES = 4 << 20  # rewrite the file to its live lines past this size ...
COMPACT_RATIO = 4  # ... and this many times what is live
LOCK_SUFFIX = ".lock"
SEGMENT_SUFFIX = ".jsonl"
_LINE = orjson.OPT_APPEND_NEWLINE
# A usage event in the journal: these fields from the admission line (by its keys) ...
ADMIT_FIELDS = {
    "request_id": "r",
    "org_id": "o",
    "workspace_id": "w",
    "key_id": "k",
    "user_id": "u",
    "model": "m",
    "streamed": "s",
    "tags": "g",  # since 0006: older lines have none (gateway.crash_recovery.journaled_tags)
}
TAGS_FIELD = ADMIT_FIELDS["tags"]
# ... and these, in this order, from the finished line.
DONE_FIELDS = (
    "provider",
    "credential_id",
    "is_byok",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_nanousd",
    "latency_ms",
    "status_code",
    "error",
    "created_at",
)


def journal_directory(settings: Settings) -> Path:
    """One directory per database, so a journal is only ever settled into the database it is for."""
    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    return settings.data_dir / JOURNAL_DIR / hashlib.sha256(url.encode()).hexdigest()[:16]


def segment_path(directory: Path, instance: str, segment: int) -> Path:
    return directory / f"{instance}.{segment:08d}{SEGMENT_SUFFIX}"


def segments_of(directory: Path, instance: str) -> list[Path]:
    return sorted(directory.glob(f"{instance}.*{SEGMENT_SUFFIX}"))


class UsageJournal:
    """Append-only lines of this process's unsettled requests; `open` returns None when it cannot."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.instance = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._lock_fd = -1
        self._fd = -1
        self._segment = 0
        self._size = 0
        self._live_bytes = 0
        self._seq = 0
        self._admitted: dict[int, bytes] = {}
        self._done: dict[int, bytes] = {}
        self._pending: list[bytes] = []  # finished lines not written yet
        self._scheduled = False

    @classmethod
    def open(cls, directory: Path) -> UsageJournal | None:
        journal = cls(directory)
        try:
            for path in (directory.parent.parent, directory.parent, directory):
                make_private_dir(path)
            journal._take_lock()
            journal._fd = journal._open_segment(0)
        except OSError as exc:
            logger.warning(
                "no usage journal in %s (%s): a killed process loses its unflushed usage", directory, exc
            )
            journal._discard()
            return None
        return journal

    def _take_lock(self) -> None:
        """Lock under a temporary name, then rename: a recoverer never sees the lock file unlocked."""
        pending = self.directory / f".{self.instance}{LOCK_SUFFIX}"
        self._lock_fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(pending, self.directory / f"{self.instance}{LOCK_SUFFIX}")

    def _open_segment(self, segment: int) -> int:
        path = segment_path(self.directory, self.instance, segment)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)

    @property
    def enabled(self) -> bool:
        return self._fd >= 0

    @property
    def live(self) -> int:
        """Requests journaled whose usage is not committed yet."""
        return len(self._admitted.keys() | self._done.keys())

    def admitted(
        self,
        key: KeyRecord,
        *,
        request_id: str,
        model: str,
        streamed: bool,
        worst: int,
        holds: Sequence[tuple[LimitSubject, int]],
        platform: bool | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> int:
        """Journal a reservation; returns its sequence number (0: not journaled).

        `platform`: a platform credential may serve it, so a crash charges it as platform spend
        (the operator org's platform spend holds no balance, so the holds alone cannot tell);
        None leaves it to the holds (a balance hold means platform). `tags` go with the usage."""
        if self._fd < 0:
            return 0
        self._seq += 1
        seq = self._seq
        line = orjson.dumps(
            {
                "a": seq,
                "t": utcnow(),
                "r": request_id,
                "o": key.org_id,
                "w": key.workspace_id,
                "k": key.id,
                "u": key.user_id,
                "m": model,
                "s": streamed,
                "c": worst,
                "p": platform,
                "g": list(tags) if tags else None,
                "h": [
                    [s.counter, s.window_start, s.limit_nanos, s.counts_byok, s.counts_platform, amount]
                    for s, amount in holds
                ],
            },
            option=_LINE,
        )
        if not self._append(b"".join([*self._pending, line]) if self._pending else line):
            return 0
        self._pending.clear()
        self._admitted[seq] = line
        self._live_bytes += len(line)
        return seq

    def done(self, seq: int, event: UsageEvent) -> None:
        """Journal a finished request's usage (what its flush will write), at the latest at the
        event loop's next turn."""
        if not seq or self._fd < 0:
            return
        e = event
        values = [
            e.provider,
            e.credential_id,
            e.is_byok,
            e.prompt_tokens,
            e.completion_tokens,
            e.cached_tokens,
            e.cache_write_tokens,
            e.cost_nanousd,
            e.latency_ms,
            e.status_code,
            e.error,
            e.created_at,
        ]  # DONE_FIELDS, spelled out: the hot path
        line = orjson.dumps({"d": seq, "v": values}, option=_LINE)
        self._done[seq] = line
        self._live_bytes += len(line)
        self._pending.append(line)
        if not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.write_pending)
            except RuntimeError:  # no event loop: write now
                self.write_pending()
                return
            self._scheduled = True

    def write_pending(self) -> None:
        """Write the finished lines no admission has carried yet."""
        self._scheduled = False
        if self._pending and self._fd >= 0:
            payload = b"".join(self._pending)
            self._pending.clear()
            self._append(payload)

    def committed(self, seqs: Iterable[int]) -> None:
        """Their batch is in the database: their lines need not survive the next compaction."""
        for seq in seqs:
            self._live_bytes -= len(self._admitted.pop(seq, b"")) + len(self._done.pop(seq, b""))

    def compact(self) -> None:
        """After a flush: empty the file when nothing is live, else rewrite it once it is large."""
        self.write_pending()
        if self._fd < 0 or self._size == 0:
            return
        try:
            if not self._admitted and not self._done:
                os.ftruncate(self._fd, 0)
                self._size = 0
                return
            if self._size < COMPACT_BYTES or self._size < COMPACT_RATIO * self._live_bytes:
                return
            self._rewrite()
        except OSError:
            self._fail()

    def _rewrite(self) -> None:
        """Live lines into a new segment first, then drop the old: a kill leaves one or both."""
        old_fd, old_path = self._fd, segment_path(self.directory, self.instance, self._segment)
        payload = memoryview(b"".join([*self._admitted.values(), *self._done.values()]))
        fd = self._open_segment(self._segment + 1)
        try:
            offset = 0
            while offset < len(payload):
                offset += os.write(fd, payload[offset:])
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._segment, self._size = fd, self._segment + 1, len(payload)
        os.close(old_fd)
        os.unlink(old_path)

    def _append(self, line: bytes) -> bool:
        try:
            written = os.write(self._fd, line)
        except OSError:
            written = -1
        if written != len(line):
            self._fail()
            return False
        self._size += written
        return True

    def _fail(self) -> None:
        """A journal missing a line is not trusted: drop it whole and run on without one."""
        logger.error(
            "usage journal write failed; running without it (a killed process now loses unflushed usage)",
            exc_info=True,
        )
        self._discard()

    def close(self) -> None:
        """At shutdown: nothing live -> the files go; else they stay, for the next process to settle."""
        self.write_pending()
        if self._fd < 0:
            return
        if self._admitted or self._done:
            logger.warning(
                "%d requests' usage was not written; the usage journal keeps it for the next process",
                self.live,
            )
            self._release()
        else:
            self._discard()

    def _discard(self) -> None:
        """Files first, lock last: a recoverer finds either the whole journal locked or nothing."""
        with contextlib.suppress(OSError):
            for path in segments_of(self.directory, self.instance):
                path.unlink(missing_ok=True)
            (self.directory / f"{self.instance}{LOCK_SUFFIX}").unlink(missing_ok=True)
            (self.directory / f".{self.instance}{LOCK_SUFFIX}").unlink(missing_ok=True)
        self._release()
        self._admitted.clear()
        self._done.clear()
        self._pending.clear()
        self._live_bytes = 0

    def _release(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._lock_fd = -1
