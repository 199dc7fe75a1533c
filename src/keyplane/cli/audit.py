"""`keyplane audit`: the org's audit trail over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli.common import JsonOption, KeyOption, OrgIdOption, PageOption, UrlOption, api_client
from keyplane.cli.output import Column, err_console, print_json, print_table

AUDIT_COLUMNS = (
    Column("id", whole=True),
    Column("created_at", "time"),
    Column("action"),
    Column("object_type", "object"),
    Column("object_id", "object id"),
    Column("actor_type", "actor"),
    Column("actor_id", "actor id"),
    Column("ip_address", "ip"),
    Column("details", flex=True),
)


def audit(
    action: Annotated[str | None, typer.Option(help="e.g. api_key.created, member.removed.")] = None,
    object_type: Annotated[str | None, typer.Option(help="e.g. api_key, budget, member.")] = None,
    object_id: Annotated[str | None, typer.Option(help="The changed object's id.")] = None,
    actor: Annotated[str | None, typer.Option(help="The acting user or key id.")] = None,
    since: Annotated[str | None, typer.Option(help="Inclusive start, ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(help="Exclusive end, ISO 8601.")] = None,
    page: PageOption = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Events per page.")] = 100,
    org_id: OrgIdOption = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The org's audit trail, newest first: who changed what, when, from where (audit:read)."""
    with api_client(url, key) as client:
        answer = client.list_audit_events(
            action=action,
            object_type=object_type,
            object_id=object_id,
            actor=actor,
            since=since,
            until=until,
            page=page,
            page_size=page_size,
            org_id=org_id,
        )
    if as_json:
        print_json(answer)
        return
    print_table(answer["data"], AUDIT_COLUMNS, title=f"{len(answer['data'])} event(s), page {page}")
    if answer["pagination"]["has_more"]:
        err_console.print(f"more events: --page {page + 1}", highlight=False)
