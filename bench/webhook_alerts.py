"""What threshold alerts add to one usage flush: `ThresholdAlerts.after_flush` on a batch.

    python bench/webhook_alerts.py [--keys 500] [--runs 20] [--url sqlite+aiosqlite:///...]

Migrates a fresh database (a temporary SQLite file by default), makes one org with a subscribed
endpoint and `--keys` key-limit spend counters, then times the alert step of a flush whose batch
charged every counter (each batch crosses nothing, the realistic case) and of one where every
counter crosses 80 % (a delivery per key queued). Prints p50 and max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from keyplane.db import upgrade_database
from keyplane.models import Organization, SpendCounter, WebhookEndpoint
from keyplane.webhooks.alerts import ThresholdAlerts
from keyplane.webhooks.thresholds import SpendChange

WINDOW = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = 10**9


def _changes(keys: int, added: int) -> list[SpendChange]:
    return [
        SpendChange("bench-org", "key", f"key-{n}", f"key:key-{n}:p", WINDOW, LIMIT, added)
        for n in range(keys)
    ]


async def _time(
    sessions: async_sessionmaker[AsyncSession], alerts: ThresholdAlerts, changes: list[SpendChange], runs: int
) -> list[float]:
    orgs = await alerts.watched_orgs()
    timings = []
    for _ in range(runs):
        async with sessions() as session:
            started = time.perf_counter()
            async with session.begin_nested():
                await alerts.after_flush(session, changes, {}, orgs)
            timings.append((time.perf_counter() - started) * 1000)
            await session.rollback()  # every run sees the same counters and an empty outbox
    return timings


async def main(url: str | None, keys: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade_database(url)
        engine = create_async_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        now = datetime.now(UTC)
        async with sessions() as session:
            await session.execute(
                insert(Organization).values(id="bench-org", name="bench", created_at=now, updated_at=now)
            )
            session.add(
                WebhookEndpoint(
                    org_id="bench-org", url="https://93.184.216.34/h", events=["budget.threshold"], secret="x"
                )
            )
            await session.execute(
                insert(SpendCounter),
                [
                    {
                        "subject": f"key:key-{n}:p",
                        "window_start": WINDOW,
                        "spent_nanousd": LIMIT // 2,
                        "reserved_nanousd": 0,
                        "updated_at": now,
                    }
                    for n in range(keys)
                ],
            )
            await session.commit()
        alerts = ThresholdAlerts(sessions)
        quiet = await _time(sessions, alerts, _changes(keys, 1000), runs)
        # spent is now 80 % of the limit and the batch added 10 %: every counter crosses 80 %
        async with sessions() as session:
            await session.execute(
                text("UPDATE spend_counters SET spent_nanousd = :v"), {"v": LIMIT * 8 // 10}
            )
            await session.commit()
        crossing = await _time(sessions, alerts, _changes(keys, LIMIT // 10), runs)
        await engine.dispose()
    backend = url.split(":", 1)[0]
    for name, timings in (("no crossing", quiet), ("every key crosses 80 %", crossing)):
        p50, top = statistics.median(timings), max(timings)
        print(f"{backend} {keys} keys, {name}: p50 {p50:.1f} ms, max {top:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.keys, args.runs))
