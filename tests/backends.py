"""Real databases for tests: an SQLite template file and a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from keyplane.db import upgrade_database
from keyplane.models import Base

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get(
    "KEYPLANE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("KEYPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unavailable(what: str) -> None:
    """In CI a missing service fails the run; on a laptop it skips with a reason."""
    message = f"{what} is not reachable (set KEYPLANE_TEST_POSTGRES_URL / KEYPLANE_TEST_REDIS_URL)"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def make_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / f"keyplane-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def create_postgres_database() -> str | None:
    """A fresh migrated database for this test session, or None when PostgreSQL is down."""
    name = f"keyplane_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except OSError:  # connection refused or host unreachable: the server is not running
        return None
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(upgrade_database(url))
    return url


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    asyncio.run(drop())


async def truncate_all(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
