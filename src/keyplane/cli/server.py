"""Local commands that touch the database directly: init, migrate, serve.

The database and server modules are imported inside the commands, so the HTTP commands of the
CLI start without loading them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from keyplane.cli.output import console, fail, print_json, print_record, settings_or_fail
from keyplane.errors import KeyplaneError

if TYPE_CHECKING:
    from keyplane.config import Settings
    from keyplane.orgs.bootstrap import BootstrapResult


def init(
    org: Annotated[str, typer.Option(help="Name of the first organization.")] = "Default",
    email: Annotated[str, typer.Option(help="Email of the owner account.")] = "admin@localhost.localdomain",
    password: Annotated[str | None, typer.Option(help="Owner password; generated when omitted.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")] = False,
    skip_if_initialized: Annotated[
        bool,
        typer.Option("--skip-if-initialized", help="Exit 0 without changes when already set up."),
    ] = False,
) -> None:
    """Migrate an empty database and create the first org, its owner and a management key."""
    generated = password is None
    password = password or secrets.token_urlsafe(18)
    settings = settings_or_fail()
    try:
        result = asyncio.run(_init(settings, org, email, password))
    except KeyplaneError as exc:
        raise fail(exc.message) from exc
    if result is None and skip_if_initialized:
        console.print("keyplane is already initialized; starting with the existing data")
        return
    if result is None:
        raise fail("keyplane is already initialized: this database has an organization. Nothing changed.")
    payload = {
        "org_id": result.org_id,
        "workspace_id": result.workspace_id,
        "user_id": result.user_id,
        "email": result.email,
        "password": password,
        "password_generated": generated,
        "management_key": result.management_key,
        "management_key_hash": result.management_key_hash,
    }
    if as_json:
        print_json(payload)
        return
    print_record(payload)
    console.print("[yellow]Store the password and management key now: they are not shown again.[/yellow]")


async def _init(settings: Settings, org: str, email: str, password: str) -> BootstrapResult | None:
    from keyplane.db import (
        create_engine,
        create_sessionmaker,
        is_initialized,
        session_scope,
        upgrade_database,
    )
    from keyplane.orgs.bootstrap import bootstrap

    await upgrade_database(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        if await is_initialized(engine):
            return None
        async with session_scope(create_sessionmaker(engine)) as session:
            return await bootstrap(session=session, org_name=org, email=email, password=password)
    finally:
        await engine.dispose()


def migrate() -> None:
    """Apply pending database migrations (needed before serve on PostgreSQL)."""
    from keyplane.db import upgrade_database

    settings = settings_or_fail(with_secret=False)
    asyncio.run(upgrade_database(settings.resolved_database_url))
    console.print("database is up to date")


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate_first: Annotated[
        bool | None,
        typer.Option("--migrate/--no-migrate", help="Apply migrations first (default: on SQLite only)."),
    ] = None,
) -> None:
    """Start the API server; /healthz answers 200 once it is ready."""
    from keyplane.db import upgrade_database

    settings = settings_or_fail()  # also creates the secret once, before workers race for it
    if migrate_first if migrate_first is not None else settings.is_sqlite:
        asyncio.run(upgrade_database(settings.resolved_database_url))
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the serving process (same PID and environment): the CLI, Alembic and the migration's
    # objects stay behind instead of taking memory for the server's whole life.
    command = [sys.executable, "-m", "keyplane.server_process", "--host", host, "--port", str(port)]
    os.execv(sys.executable, [*command, "--workers", str(workers)])
