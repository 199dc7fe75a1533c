"""Engine, sessions and migrations: one async engine per process, SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine tuned per backend: WAL and a busy timeout on SQLite, a bounded pool on PostgreSQL."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on any error."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["keyplane_url"] = url
    return config


async def upgrade_database(url: str) -> None:
    """Apply every pending migration (Alembic runs its own event loop work in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


def _pending_heads(connection: Connection, config: Config) -> bool:
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory.from_config(config).get_heads())
    return current != heads


async def has_pending_migrations(engine: AsyncEngine) -> bool:
    config = alembic_config(str(engine.url))
    async with engine.connect() as connection:
        return await connection.run_sync(_pending_heads, config)


async def is_initialized(engine: AsyncEngine) -> bool:
    """True once the schema exists and holds an organization."""
    from sqlalchemy import inspect, select

    from keyplane.models import Organization

    async with engine.connect() as connection:
        has_table = await connection.run_sync(lambda c: inspect(c).has_table("organizations"))
        if not has_table:
            return False
        row = (await connection.execute(select(Organization.id).limit(1))).first()
        return row is not None
