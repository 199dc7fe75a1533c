"""`keyplane usage`: usage records, their sums by day, model, key or tag, and the streamed CSV export."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from keyplane.cli.common import (
    FromOption,
    JsonOption,
    KeyOption,
    OrgIdOption,
    PageOption,
    ToOption,
    UrlOption,
    api_client,
)
from keyplane.cli.output import Column, err_console, fail, print_json, print_message, print_table
from keyplane.client import KeyplaneClient
from keyplane.client.types import UsageFilterArgs

RECORD_COLUMNS = (
    Column("id", whole=True),
    Column("created_at", "time"),
    Column("model"),
    Column("total_tokens", "tokens"),
    Column("cost"),
    Column("status_code", "status"),
    Column("key_hash", "key"),
    Column("provider"),
    Column("is_byok", "byok"),
    Column("latency_ms", "ms"),
    Column("workspace_id", "workspace"),
    Column("user_id", "user"),
)
TOTAL_COLUMNS = (
    Column("requests"),
    Column("prompt_tokens", "prompt"),
    Column("completion_tokens", "completion"),
    Column("cached_tokens", "cached"),
    Column("cost"),
    Column("byok_cost", "byok cost"),
)
GROUP_FIRST = {
    "day": (Column("day", whole=True),),
    "model": (Column("model", whole=True),),
    "key": (Column("key_hash", "key", whole=True), Column("key_name", "name", flex=True)),
    "tag": (Column("tag", whole=True),),
}


class GroupBy(StrEnum):
    day = "day"
    model = "model"
    key = "key"
    tag = "tag"


def usage(
    group_by: Annotated[
        GroupBy | None, typer.Option(help="Sum requests, tokens and cost per day, model, key or tag.")
    ] = None,
    start: FromOption = None,
    end: ToOption = None,
    key_hash: Annotated[str | None, typer.Option(help="Only this key's usage.")] = None,
    user_id: Annotated[str | None, typer.Option(help="Only this member's usage.")] = None,
    workspace_id: Annotated[str | None, typer.Option(help="Only this workspace's usage.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only records carrying this tag.")] = None,
    org_id: OrgIdOption = None,
    csv: Annotated[
        Path | None,
        typer.Option(help="Stream every matching record as CSV into this file ('-': standard output)."),
    ] = None,
    page: PageOption = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Records per page.")] = 100,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Usage records (newest first, a page at a time), or their sums with --group-by, or all as --csv."""
    if csv is not None and group_by is not None:
        raise fail("--csv exports records; it does not combine with --group-by")
    filters: UsageFilterArgs = {
        "start": start,
        "end": end,
        "key_hash": key_hash,
        "user_id": user_id,
        "workspace_id": workspace_id,
        "model": model,
        "org_id": org_id,
        "tag": tag,
    }
    with api_client(url, key) as client:
        if csv is not None:
            _export(client, csv, filters)
            return
        if group_by is not None:
            groups = client.usage_groups(group_by.value, **filters)
            if as_json:
                print_json(groups)
            else:
                title = f"usage by {group_by.value}: {len(groups)} row(s)"
                print_table(groups, (*GROUP_FIRST[group_by.value], *TOTAL_COLUMNS), title=title)
            return
        answer = client.list_usage(page=page, page_size=page_size, **filters)
    if as_json:
        print_json(answer)
        return
    pagination = answer["pagination"]
    title = f"{len(answer['data'])} of {pagination.get('total', '?')} record(s), page {pagination['page']}"
    print_table(answer["data"], RECORD_COLUMNS, title=title)
    if pagination["has_more"]:
        err_console.print(f"more records: --page {pagination['page'] + 1}", highlight=False)


def _export(client: KeyplaneClient, destination: Path, filters: UsageFilterArgs) -> None:
    """Stream the export; a file is removed again when the export fails, never left half-written."""
    if str(destination) == "-":
        client.export_usage_csv(sys.stdout.buffer, **filters)
        sys.stdout.flush()
        return
    try:
        with destination.open("wb") as handle:
            try:
                written = client.export_usage_csv(handle, **filters)
            except BaseException:
                destination.unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise fail(f"cannot write {destination}: {exc}") from exc
    print_message(f"wrote {written} bytes of CSV to {destination}")
