"""Tables for people, JSON for scripts: every command prints through here."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from keyplane.config import Settings, SettingsError, describe_settings_error, get_settings

console = Console()
err_console = Console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    console.print(table)


def print_record(record: dict[str, Any]) -> None:
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in record.items():
        table.add_row(name, "" if value is None else str(value))
    console.print(table)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def settings_or_fail(*, with_secret: bool = True) -> Settings:
    """The settings, or exit 1 with the variable to fix (no traceback for a configuration mistake)."""
    try:
        settings = get_settings()
        if with_secret:
            settings.resolved_secret_key  # noqa: B018 - a short key in the key file stops here too
    except ValidationError as exc:
        raise fail(f"invalid settings: {describe_settings_error(exc)}") from exc
    except SettingsError as exc:
        raise fail(f"invalid settings: {exc}") from exc
    return settings
