"""Usage-query timings on a large usage_records table in PostgreSQL (default 10 million rows).

    python bench/usage_query.py [--rows N] [--runs R] [--keep] [--url postgresql+asyncpg://...]

Creates a dedicated database (keyplane_bench_usage), migrates it, fills usage_records with
`INSERT ... SELECT generate_series` (90 days, 5 orgs, 2,000 keys, 3 models per key, rows in time
order as the gateway appends them), derives usage_rollups with one GROUP BY, ANALYZEs, then times
keyplane's own query functions (keyplane.usage.queries) and, for comparison, the naive raw-row SQL.
Prints the p50 (and max) of several runs in milliseconds and drops the database unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from keyplane.db import upgrade_database
from keyplane.usage.queries import UsageFilter, count_usage_records, grouped_usage, list_usage_records

DEFAULT_ADMIN_URL = os.environ.get(
    "KEYPLANE_BENCH_POSTGRES_URL",
    os.environ.get("KEYPLANE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
)
ORGS, KEYS, MODELS, DAYS = 5, 2000, 20, 90
SECONDARY_INDEXES = (
    "ix_usage_records_org_id_created_at",
    "ix_usage_records_key_id_created_at",
    "ix_usage_records_workspace_id_created_at",
    "ix_usage_records_user_id_created_at",
    "ix_usage_records_org_id_model_created_at",
)

# Key k belongs to org k % 5 and user k % 200, uses 3 models; every 10th key is BYOK.
FILL_SQL = f"""
INSERT INTO usage_records (
    request_id, created_at, org_id, workspace_id, key_id, user_id, model, provider, credential_id,
    is_byok, prompt_tokens, completion_tokens, cached_tokens, cost_nanousd, latency_ms, status_code,
    streamed, error)
SELECT md5(g::text),
       CAST(:start AS timestamptz) + CAST(:span AS interval) * (g::float8 / CAST(:rows AS bigint)),
       'org-' || (k % {ORGS}), 'ws-' || (k % {ORGS}), 'key-' || k, 'user-' || (k % 200),
       'model-' || ((k + g % 3) % {MODELS}), 'provider-' || (((k + g % 3) % {MODELS}) % 4), NULL,
       k % 10 = 0, 200 + (g % 800), 50 + (g % 300), g % 100, 1000 + (g % 5000) * 1000, 100 + g % 900, 200,
       g % 2 = 0, NULL
FROM (SELECT g, (g * 7919) % {KEYS} AS k
      FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g) AS s
"""

ROLLUP_SQL = """
INSERT INTO usage_rollups (day, key_id, model, provider, is_byok, org_id, workspace_id, user_id,
    requests, prompt_tokens, completion_tokens, cached_tokens, cost_nanousd)
SELECT (created_at AT TIME ZONE 'UTC')::date, key_id, model, provider, is_byok,
       min(org_id), min(workspace_id), min(user_id), count(*), sum(prompt_tokens),
       sum(completion_tokens), sum(cached_tokens), sum(cost_nanousd)
FROM usage_records GROUP BY 1, 2, 3, 4, 5
"""


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def fill(engine: AsyncEngine, rows: int, now: datetime) -> None:
    """Bulk load without the secondary indexes, then build them (as a restore would)."""
    async with engine.begin() as connection:
        definitions = [
            row[0]
            for row in await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                {"names": list(SECONDARY_INDEXES)},
            )
        ]
        for name in SECONDARY_INDEXES:
            await connection.execute(text(f"DROP INDEX {name}"))
    chunk = 2_000_000
    start, span = now - timedelta(days=DAYS), timedelta(days=DAYS)
    for first in range(1, rows + 1, chunk):
        last = min(rows, first + chunk - 1)
        async with engine.begin() as connection:
            await connection.execute(
                text(FILL_SQL), {"start": start, "span": span, "rows": rows, "first": first, "last": last}
            )
        print(f"  {last:>12,} rows", file=sys.stderr, flush=True)
    async with engine.begin() as connection:
        await connection.execute(text("SET maintenance_work_mem = '512MB'"))
        for definition in definitions:
            await connection.execute(text(definition))
        await connection.execute(text(ROLLUP_SQL))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE usage_records"))
        await connection.execute(text("VACUUM ANALYZE usage_rollups"))


async def timed(
    sessions: async_sessionmaker[AsyncSession], runs: int, work: Callable[[AsyncSession], Awaitable[Any]]
) -> tuple[float, float, Any]:
    """p50 and max in ms over `runs` runs after one warm-up, each in a fresh session."""
    result: Any = None
    samples = []
    for attempt in range(runs + 1):
        async with sessions() as session:
            began = time.perf_counter()
            result = await work(session)
            elapsed = (time.perf_counter() - began) * 1000
        if attempt:
            samples.append(elapsed)
    return statistics.median(samples), max(samples), result


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).all()


async def measure(engine: AsyncEngine, runs: int, now: datetime) -> list[tuple[str, float, float, str]]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    start = now - timedelta(days=30)
    org = UsageFilter(org_id="org-0", start=start, end=now)
    key = UsageFilter(org_id="org-0", key_id="key-1005", start=start, end=now)
    cases: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]], Callable[[Any], str]]] = [
        (
            "page: one key, 30 days, 100 rows (+ exact total)",
            lambda s: list_usage_records(session=s, filter=key, page=1, page_size=100),
            lambda r: f"{len(r[0])} rows of {r[1]:,}",
        ),
        (
            "page 10: one key, 30 days, 100 rows",
            lambda s: list_usage_records(session=s, filter=key, page=10, page_size=100),
            lambda r: f"{len(r[0])} rows",
        ),
        (
            "count: org, 30 days (rollups + edges)",
            lambda s: count_usage_records(session=s, filter=org),
            lambda r: f"{r:,}",
        ),
        (
            "group by day: org, 30 days",
            lambda s: grouped_usage(session=s, filter=org, group_by="day"),
            lambda r: f"{len(r)} days",
        ),
        (
            "group by model: org, 30 days",
            lambda s: grouped_usage(session=s, filter=org, group_by="model"),
            lambda r: f"{len(r)} models",
        ),
        (
            "group by key: org, 30 days",
            lambda s: grouped_usage(session=s, filter=org, group_by="key"),
            lambda r: f"{len(r)} keys",
        ),
        (
            "naive raw count: org, 30 days",
            lambda s: scalar(
                s,
                "SELECT count(*) FROM usage_records"
                " WHERE org_id = :o AND created_at >= :a AND created_at < :b",
                o="org-0",
                a=start,
                b=now,
            ),
            lambda r: f"{r[0][0]:,}",
        ),
        (
            "naive raw group by day: org, 30 days",
            lambda s: scalar(
                s,
                "SELECT (created_at AT TIME ZONE 'UTC')::date, count(*), sum(cost_nanousd)"
                " FROM usage_records WHERE org_id = :o AND created_at >= :a AND created_at < :b GROUP BY 1",
                o="org-0",
                a=start,
                b=now,
            ),
            lambda r: f"{len(r)} days",
        ),
    ]
    results = []
    for label, work, describe in cases:
        p50, worst, result = await timed(sessions, runs, work)
        results.append((label, p50, worst, describe(result)))
    return results


async def main(args: argparse.Namespace) -> None:
    url = database_url(args.url, args.database)
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"database {args.database}: {args.rows:,} usage rows over {DAYS} days", file=sys.stderr)
    await recreate_database(args.url, args.database)
    try:
        await upgrade_database(url)
        engine = create_async_engine(url, pool_size=2)
        try:
            began = time.perf_counter()
            await fill(engine, args.rows, now)
            loaded = time.perf_counter() - began
            async with engine.connect() as connection:
                rollups = (await connection.execute(text("SELECT count(*) FROM usage_rollups"))).scalar_one()
            print(f"loaded in {loaded:.0f} s; {rollups:,} rollup rows", file=sys.stderr)
            results = await measure(engine, args.runs, now)
        finally:
            await engine.dispose()
    finally:
        if not args.keep:
            await recreate_database(args.url, args.database, drop_only=True)
    print(f"\nusage_records: {args.rows:,} rows; p50 / max of {args.runs} runs (ms)")
    width = max(len(label) for label, *_ in results)
    for label, p50, worst, described in results:
        print(f"  {label:<{width}}  {p50:9.1f}  {worst:9.1f}   {described}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="usage_records rows (default 10M)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query (default 7)")
    parser.add_argument("--url", default=DEFAULT_ADMIN_URL, help="PostgreSQL URL of a maintenance database")
    parser.add_argument("--database", default="keyplane_bench_usage", help="database to create and drop")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
