"""Server time of every dashboard page on a PostgreSQL database with 10 million usage rows.

    python bench/dashboard.py [--rows N] [--runs R] [--rebuild] [--drop] [--url postgresql+asyncpg://...]

Builds (or reuses, when it already holds --rows usage rows) the database keyplane_bench_dashboard:
the usage rows of bench/usage_query.py (90 days, 5 orgs, 2,000 keys, their rollups), plus the
orgs, workspaces, keys and an owner those rows belong to. Then serves the app in-process, signs in
through the sign-in form and times each page (the whole request through the ASGI app, no network)
after one warm-up. Prints p50 and max in milliseconds; the target is every page under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).parent))
from usage_query import DAYS, DEFAULT_ADMIN_URL, KEYS, ORGS, database_url, fill, recreate_database

from keyplane.app import create_app
from keyplane.auth.passwords import hash_password
from keyplane.auth.tokens import generate_key, hash_key, mask_key
from keyplane.config import Settings
from keyplane.db import upgrade_database
from keyplane.models import ApiKey, Membership, Organization, User, Workspace

EMAIL, PASSWORD = "owner@bench.test", "bench-password-1"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
TARGET_MS = 200.0


async def seed_tenancy(engine: AsyncEngine) -> None:
    """The orgs, workspaces and keys the usage rows name (org-0 is the operator), one owner of all."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    start = datetime.now(UTC) - timedelta(days=DAYS + 1)
    async with sessions.begin() as session:
        user = User(email=EMAIL, name="Bench owner", password_hash=hash_password(PASSWORD))
        session.add(user)
        for index in range(ORGS):
            session.add(
                Organization(
                    id=f"org-{index}", name=f"Org {index}", created_at=start + timedelta(seconds=index)
                )
            )
        await session.flush()
        for index in range(ORGS):
            session.add(Workspace(id=f"ws-{index}", org_id=f"org-{index}", name="Default", is_default=True))
            session.add(Membership(org_id=f"org-{index}", user_id=user.id, role="owner"))
        await session.flush()
        for k in range(KEYS):
            plaintext = generate_key("inference")
            session.add(
                ApiKey(
                    id=f"key-{k}",
                    hash=hash_key(plaintext),
                    kind="inference",
                    name=f"bench key {k}",
                    label=mask_key(plaintext),
                    org_id=f"org-{k % ORGS}",
                    workspace_id=f"ws-{k % ORGS}",
                    creator_user_id=user.id,
                    created_at=start,
                )
            )


async def build(admin_url: str, name: str, rows: int, rebuild: bool) -> str:
    url = database_url(admin_url, name)
    if not rebuild:
        try:
            engine = create_async_engine(url)
            async with engine.connect() as connection:
                held = (await connection.execute(text("SELECT count(*) FROM usage_records"))).scalar_one()
            await engine.dispose()
            if held == rows:
                print(f"reusing {name}: {held:,} usage rows (migrating it to the head)", file=sys.stderr)
                await upgrade_database(url)
                return url
        except Exception:  # no such database yet (or not keyplane's): build it
            pass
    print(f"building {name}: {rows:,} usage rows over {DAYS} days", file=sys.stderr)
    await recreate_database(admin_url, name)
    await upgrade_database(url)
    engine = create_async_engine(url, pool_size=2)
    try:
        await fill(engine, rows, datetime.now(UTC).replace(microsecond=0))
        await seed_tenancy(engine)
    finally:
        await engine.dispose()
    return url


def pages(key_hash: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    month = f"from={today - timedelta(days=29)}&to={today}"
    return {
        "Overview": "/dashboard/",
        "Keys": "/dashboard/keys",
        "Keys: search": "/dashboard/keys?q=key+12",
        "Usage: every request, page 1": "/dashboard/usage",
        "Usage: page 20": "/dashboard/usage?page=20",
        "Usage: 30 days": f"/dashboard/usage?{month}",
        "Usage: one key, 30 days": f"/dashboard/usage?{month}&key={key_hash}",
        "Usage: one model, 30 days": f"/dashboard/usage?{month}&model=model-3",
        "Usage: by day, 30 days": f"/dashboard/usage?{month}&group=day",
        "Usage: by model, 30 days": f"/dashboard/usage?{month}&group=model",
        "Usage: by key, 30 days": f"/dashboard/usage?{month}&group=key",
        "Usage: by day, all time": "/dashboard/usage?group=day",
        "Providers": "/dashboard/providers",
        "Budgets": "/dashboard/budgets",
        "Members": "/dashboard/members",
        "Workspaces": "/dashboard/workspaces",
        "Audit log": "/dashboard/audit",
        "Organizations": "/dashboard/organizations",
        "Prices": "/dashboard/prices",
    }


async def measure(url: str, runs: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            data_dir=Path(directory),
            database_url=url,
            secret_key="bench-secret-key-for-the-dashboard-benchmark",
            redis_url=None,
            model_discovery_interval_seconds=0,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                login = await client.get("/dashboard/login")
                token = CSRF.search(login.text)
                assert token is not None
                signed = await client.post(
                    "/dashboard/login",
                    data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD},
                )
                assert signed.status_code == 303, signed.text[:300]
                engine = app.state.keyplane.engine
                async with engine.connect() as connection:
                    key_hash = (
                        await connection.execute(select(ApiKey.hash).where(ApiKey.id == "key-1005"))
                    ).scalar_one()
                    total = (await connection.execute(select(func.count()).select_from(ApiKey))).scalar_one()
                print(f"{total:,} keys; timing {runs} runs per page", file=sys.stderr)
                results = []
                for label, path in pages(key_hash).items():
                    samples = []
                    for attempt in range(runs + 1):
                        began = time.perf_counter()
                        response = await client.get(path)
                        elapsed = (time.perf_counter() - began) * 1000
                        assert response.status_code == 200, (path, response.status_code, response.text[:300])
                        if attempt:
                            samples.append(elapsed)
                    results.append((label, statistics.median(samples), max(samples)))
                return results


async def main(args: argparse.Namespace) -> int:
    url = await build(args.url, args.database, args.rows, args.rebuild)
    try:
        results = await measure(url, args.runs)
    finally:
        if args.drop:
            await recreate_database(args.url, args.database, drop_only=True)
    print(f"\ndashboard pages on {args.rows:,} usage rows; server time p50 / max of {args.runs} runs (ms)")
    width = max(len(label) for label, *_ in results)
    for label, p50, worst in results:
        flag = "" if worst < TARGET_MS else f"   over {TARGET_MS:.0f} ms"
        print(f"  {label:<{width}}  {p50:8.1f}  {worst:8.1f}{flag}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="usage_records rows (default 10M)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per page (default 7)")
    parser.add_argument("--url", default=DEFAULT_ADMIN_URL, help="PostgreSQL URL of a maintenance database")
    parser.add_argument("--database", default="keyplane_bench_dashboard", help="database to build or reuse")
    parser.add_argument("--rebuild", action="store_true", help="build the database even if it exists")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
