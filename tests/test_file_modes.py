"""Files of the data directory are the owner's alone: another local user reads no key hash or secret."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from keyplane.config import Settings, load_or_create_secret_key
from keyplane.db import create_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    """The common default umask, under which SQLite and mkdir would make world-readable files."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_data_directory_is_created_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / ".keyplane"
    load_or_create_secret_key(data_dir)
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "secret_key") == 0o600


async def test_the_sqlite_database_and_its_wal_files_are_created_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / ".keyplane", database_url=None)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as connection:  # the WAL and shared-memory files exist while open
            await connection.execute(text("SELECT x FROM t"))
            database = tmp_path / ".keyplane" / "keyplane.db"
            companions = [Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(path.exists() for path in companions)
            assert [_mode(p) for p in (database.parent, database, *companions)] == [0o700] + [0o600] * 3
    finally:
        await engine.dispose()


async def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    database = tmp_path / "mine.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert _mode(database) == 0o640
