"""`keyplane keys ...`: manage inference keys of a running server through keyplane.client."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from keyplane.cli.common import JsonOption, KeyOption, UrlOption, api_client, parse_duration
from keyplane.cli.output import Column, console, fail, print_json, print_record, print_table
from keyplane.client import UNSET, CreatedKey, Key

app = typer.Typer(
    name="keys",
    help="Create, list, inspect, change and delete API keys on a running keyplane server.",
    no_args_is_help=True,
)


class LimitReset(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    none = "none"


HashArgument = Annotated[str, typer.Argument(help="The key's hash (its public identifier).")]

# The full hash is what get/update/delete take: it is never cut; the numbers go first when narrow.
LIST_COLUMNS = (
    Column("hash", whole=True),
    Column("name", flex=True),
    Column("disabled"),
    Column("limit"),
    Column("limit_remaining", "remaining"),
    Column("limit_reset", "reset"),
    Column("usage"),
    Column("workspace_id", "workspace"),
)


def _show(key: Key, as_json: bool) -> None:
    if as_json:
        print_json(key.raw)
    else:
        print_record(key.raw)


def _reset_value(reset: LimitReset | None) -> str | None:
    return None if reset is None or reset is LimitReset.none else reset.value


AllowedModelOption = Annotated[
    list[str] | None,
    typer.Option("--allowed-model", help="A model the key may call (repeat for several; default: any)."),
]
RpmOption = Annotated[
    int | None, typer.Option("--rpm", min=1, help="Requests per minute the gateway allows.")
]
TpmOption = Annotated[int | None, typer.Option("--tpm", min=1, help="Tokens per minute allowed.")]
AllowedIpOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-ip", help="A client address or CIDR the gateway serves (repeat for several; default: any)."
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", help="A tag every request's usage carries (repeat for several, at most 10)."),
]
ConcurrencyOption = Annotated[
    int | None, typer.Option("--max-concurrency", min=1, help="Requests in flight at most.")
]


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the key.")],
    limit: Annotated[float | None, typer.Option(help="Spending limit in USD.", min=0)] = None,
    limit_reset: Annotated[
        LimitReset | None, typer.Option(help="Reset the limit daily, weekly or monthly (UTC).")
    ] = None,
    include_byok_in_limit: Annotated[
        bool, typer.Option("--include-byok-in-limit", help="Count BYOK usage against the limit.")
    ] = False,
    expires_at: Annotated[
        datetime | None,
        typer.Option(help="UTC expiry, e.g. 2030-01-31T00:00:00.", formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    ] = None,
    workspace_id: Annotated[str | None, typer.Option(help="Workspace (default: the org's default).")] = None,
    allowed_model: AllowedModelOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    allowed_ip: AllowedIpOption = None,
    tag: TagOption = None,
    max_concurrency: ConcurrencyOption = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an inference key; its plaintext is printed once and never again."""
    with api_client(url, key) as client:
        created = client.create_key(
            name,
            limit=limit,
            limit_reset=_reset_value(limit_reset),
            include_byok_in_limit=include_byok_in_limit,
            expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if expires_at else None,
            workspace_id=workspace_id,
            allowed_models=allowed_model or None,
            rate_limit_rpm=rpm,
            rate_limit_tpm=tpm,
            allowed_ips=allowed_ip or None,
            tags=tag or None,
            max_concurrency=max_concurrency,
        )
    _show_created(created, as_json)


def _show_created(created: CreatedKey, as_json: bool) -> None:
    if as_json:
        print_json({"data": created.key.raw, "key": created.plaintext})
        return
    print_record(created.key.raw)
    console.print(f"key: [bold]{created.plaintext}[/bold]", soft_wrap=True)
    console.print("[yellow]Store the key now: it is not shown again.[/yellow]")


@app.command("list")
def list_keys(
    include_disabled: Annotated[bool, typer.Option("--include-disabled", help="Show disabled keys.")] = False,
    include_expired: Annotated[bool, typer.Option("--include-expired", help="Show expired keys.")] = False,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many keys (pages of 100).")] = 0,
    workspace_id: Annotated[
        str | None, typer.Option(help="Only this workspace (default: every one).")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List one page (100, newest first) of the org's inference keys."""
    with api_client(url, key) as client:
        keys = client.list_keys(
            include_disabled=include_disabled,
            include_expired=include_expired,
            offset=offset,
            workspace_id=workspace_id,
        )
    if as_json:
        print_json([item.raw for item in keys])
        return
    title = f"{len(keys)} key(s)" + (f" from offset {offset}" if offset else "")
    print_table([item.raw for item in keys], LIST_COLUMNS, title=title)


@app.command("get")
def get(
    key_hash: HashArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Show one key with its usage and remaining limit."""
    with api_client(url, key) as client:
        found = client.get_key(key_hash)
    _show(found, as_json)


@app.command("update")
def update(
    key_hash: HashArgument,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    disabled: Annotated[
        bool | None,
        typer.Option("--disable/--enable", help="Disable or re-enable the key.", show_default=False),
    ] = None,
    limit: Annotated[float | None, typer.Option(help="New spending limit in USD.", min=0)] = None,
    no_limit: Annotated[bool, typer.Option("--no-limit", help="Remove the spending limit.")] = False,
    limit_reset: Annotated[
        LimitReset | None, typer.Option(help="New reset interval; 'none' never resets.")
    ] = None,
    include_byok_in_limit: Annotated[
        bool | None,
        typer.Option(
            "--include-byok-in-limit/--exclude-byok-in-limit",
            help="Count BYOK usage against the limit or not.",
            show_default=False,
        ),
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(help="New UTC expiry.", formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    ] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Remove the expiry.")] = False,
    allowed_model: AllowedModelOption = None,
    any_model: Annotated[bool, typer.Option("--any-model", help="Allow every model again.")] = False,
    rpm: RpmOption = None,
    no_rpm: Annotated[bool, typer.Option("--no-rpm", help="Remove the requests-per-minute limit.")] = False,
    tpm: TpmOption = None,
    no_tpm: Annotated[bool, typer.Option("--no-tpm", help="Remove the tokens-per-minute limit.")] = False,
    allowed_ip: AllowedIpOption = None,
    any_ip: Annotated[bool, typer.Option("--any-ip", help="Serve every client address again.")] = False,
    tag: TagOption = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Remove the key's tags.")] = False,
    max_concurrency: ConcurrencyOption = None,
    no_max_concurrency: Annotated[
        bool, typer.Option("--no-max-concurrency", help="Remove the concurrency limit.")
    ] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change only the given fields of a key."""
    if limit is not None and no_limit:
        raise fail("--limit and --no-limit exclude each other")
    if expires_at is not None and no_expiry:
        raise fail("--expires-at and --no-expiry exclude each other")
    for given, cleared, names in (
        (allowed_model, any_model, "--allowed-model and --any-model"),
        (rpm, no_rpm, "--rpm and --no-rpm"),
        (tpm, no_tpm, "--tpm and --no-tpm"),
        (allowed_ip, any_ip, "--allowed-ip and --any-ip"),
        (tag, no_tags, "--tag and --no-tags"),
        (max_concurrency, no_max_concurrency, "--max-concurrency and --no-max-concurrency"),
    ):
        if given and cleared:
            raise fail(f"{names} exclude each other")
    changes: dict[str, Any] = {
        "name": UNSET if name is None else name,
        "disabled": UNSET if disabled is None else disabled,
        "limit": None if no_limit else (UNSET if limit is None else limit),
        "limit_reset": UNSET if limit_reset is None else _reset_value(limit_reset),
        "include_byok_in_limit": UNSET if include_byok_in_limit is None else include_byok_in_limit,
        "expires_at": None
        if no_expiry
        else (UNSET if expires_at is None else expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
        "allowed_models": None if any_model else (allowed_model or UNSET),
        "rate_limit_rpm": None if no_rpm else (UNSET if rpm is None else rpm),
        "rate_limit_tpm": None if no_tpm else (UNSET if tpm is None else tpm),
        "allowed_ips": None if any_ip else (allowed_ip or UNSET),
        "tags": None if no_tags else (tag or UNSET),
        "max_concurrency": None
        if no_max_concurrency
        else (UNSET if max_concurrency is None else max_concurrency),
    }
    if all(value is UNSET for value in changes.values()):
        raise fail("nothing to change: pass at least one option (see --help)")
    with api_client(url, key) as client:
        updated = client.update_key(key_hash, **changes)
    _show(updated, as_json)


@app.command("rotate")
def rotate(
    key_hash: HashArgument,
    grace: Annotated[
        str,
        typer.Option(
            help="How long the old secret keeps working: seconds, or 90s, 30m, 1h, 7d (0 to 7 days)."
        ),
    ] = "1h",
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give the key a new secret (printed once); the old one works until the grace period ends."""
    try:
        grace_seconds = parse_duration(grace)
    except ValueError as exc:
        raise fail(f"--grace: {exc}") from None
    with api_client(url, key) as client:
        rotated = client.rotate_key(key_hash, grace_seconds=grace_seconds)
    _show_created(rotated, as_json)


@app.command("delete")
def delete(
    key_hash: HashArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a key for good (its usage history stays)."""
    if not yes and not typer.confirm(f"Delete key {key_hash}?", default=False):
        raise fail("aborted: nothing deleted")
    with api_client(url, key) as client:
        client.delete_key(key_hash)
    if as_json:
        print_json({"deleted": True, "hash": key_hash})
        return
    console.print(f"deleted {key_hash}")


@app.command("current")
def current(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Show the key you are calling with (any kind of key works)."""
    with api_client(url, key) as client:
        found = client.current_key()
    if as_json:
        print_json(found.raw)
        return
    print_record({name: value for name, value in found.raw.items() if not isinstance(value, dict | list)})
