"""Engine, sessions and migrations: one async engine per process, SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from keyplane.config import PRIVATE_FILE_MODE, make_private_dir

if TYPE_CHECKING:  # Alembic is imported where migrations run, not by every server process
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine tuned per backend: WAL and a busy timeout on SQLite, a bounded pool on PostgreSQL."""
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names, or None (in-memory, URI form, no path)."""
    if ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def prepare_sqlite_file(url: str) -> None:
    """Create the database file owner-only before SQLite does (it would make it 0644); its -wal
    and -shm files take the database file's mode, so they are owner-only too."""
    path = sqlite_path(url)
    if path is None:
        return
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:  # an existing database keeps the mode its operator gave it
        return
    os.fchmod(fd, PRIVATE_FILE_MODE)  # exact, whatever the umask
    os.close(fd)


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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["keyplane_url"] = url
    return config


async def upgrade_database(url: str) -> None:
    """Apply every pending migration (Alembic runs its own event loop work in a thread)."""
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


def _pending_heads(connection: Connection, config: Config) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
