"""What every HTTP command shares: the server and key options, `--json`, and the client whose
errors end the command with the API's message and exit code 1 (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from keyplane.cli.output import ColumnSpec, fail, print_json, print_message, print_record
from keyplane.client import KEY_ENV, URL_ENV, KeyplaneAPIError, KeyplaneClient, KeyplaneConnectionError

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar=URL_ENV, help="Server base URL (default http://127.0.0.1:8080)."),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--key", envvar=KEY_ENV, help="Management key (sk_mg_...).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
FromOption = Annotated[
    str | None,
    typer.Option("--from", help="Inclusive start, ISO 8601 (e.g. 2025-01-31 or 2025-01-31T08:00:00Z)."),
]
ToOption = Annotated[str | None, typer.Option("--to", help="Exclusive end, ISO 8601.")]
PageOption = Annotated[int, typer.Option(min=1, help="Page number, from 1.")]
OrgIdOption = Annotated[
    str | None, typer.Option(help="Read another org's (operator admin key).", show_default=False)
]


@contextmanager
def api_client(url: str | None, key: str | None, *, needs_key: bool = True) -> Iterator[KeyplaneClient]:
    """A client whose API and connection errors end the command with a message and exit code 1."""
    if needs_key and not key:
        raise fail(f"no management key: pass --key or set {KEY_ENV}")
    try:
        with KeyplaneClient(url, key) as client:
            yield client
    except KeyplaneAPIError as exc:
        raise fail(f"{exc.message} (HTTP {exc.status_code})") from exc
    except KeyplaneConnectionError as exc:
        raise fail(str(exc)) from exc


def show(value: Mapping[str, Any], as_json: bool, columns: Sequence[ColumnSpec] | None = None) -> None:
    """One object: its JSON, or a field per line."""
    if as_json:
        print_json(value)
    else:
        print_record(value, columns)


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive change unless --yes; a no ends the command with exit code 1."""
    if not yes and not typer.confirm(question, default=False):
        raise fail("aborted: nothing changed")


def deleted(as_json: bool, **ids: str) -> None:
    """What a removal prints: `{"deleted": true, <id>: ...}` or one line naming it."""
    if as_json:
        print_json({"deleted": True, **ids})
    else:
        print_message("deleted " + " ".join(ids.values()))


def pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """`NAME=VALUE` options as a dict; a value without `=` ends the command naming the option."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise fail(f"{option} takes NAME=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from "3600", "90s", "30m", "1h" or "7d"; ValueError names what is wrong."""
    value = text.strip().lower()
    unit = DURATION_UNITS.get(value[-1:], 0) if value else 0
    number = value[:-1] if unit else value
    if not number.isdigit() or len(number) > 9:
        raise ValueError(f"'{text}' is not a duration such as 3600, 90s, 30m, 1h or 7d")
    return int(number) * (unit or 1)
