"""`keyplane budgets ...`: spending caps on the org, a workspace or a key, over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from keyplane.cli.common import (
    JsonOption,
    KeyOption,
    UrlOption,
    YesOption,
    api_client,
    confirm,
    deleted,
    show,
)
from keyplane.cli.output import Column, fail, print_json, print_table
from keyplane.client import UNSET
from keyplane.client.types import Reset

app = typer.Typer(
    name="budgets",
    help="Cap spending of the org, a workspace or a key per day, week, month or for good.",
    no_args_is_help=True,
)

COLUMNS = (
    Column("id", whole=True),
    Column("scope"),
    Column("limit"),
    Column("spend"),
    Column("remaining"),
    Column("reset"),
    Column("name", flex=True),
    Column("include_byok", "byok"),
    Column("resets_at", "resets at"),
    Column("workspace_id", "workspace"),
    Column("key_hash", "key"),
)
BudgetIdArgument = Annotated[str, typer.Argument(help="The budget's id.")]


class Scope(StrEnum):
    org = "org"
    workspace = "workspace"
    key = "key"


class BudgetReset(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    never = "never"


RESETS: dict[BudgetReset, Reset | None] = {
    BudgetReset.daily: "daily",
    BudgetReset.weekly: "weekly",
    BudgetReset.monthly: "monthly",
    BudgetReset.never: None,
}


def _reset(value: BudgetReset) -> Reset | None:
    return RESETS[value]


@app.command("list")
def list_budgets(
    scope: Annotated[Scope | None, typer.Option(help="Only budgets of this scope.")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The org's budgets with what they have spent in the current window (admin key)."""
    with api_client(url, key) as client:
        found = client.list_budgets(scope=scope.value if scope else None)
    if as_json:
        print_json(found)
    else:
        print_table(found, COLUMNS, title=f"{len(found)} budget(s)")


@app.command("get")
def get_budget(
    budget_id: BudgetIdArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """One budget, its spend and when it resets."""
    with api_client(url, key) as client:
        show(client.get_budget(budget_id), as_json)


@app.command("create")
def create(
    scope: Annotated[Scope, typer.Argument(help="What it caps: org, workspace or key.")],
    limit: Annotated[float, typer.Argument(help="USD per window.", min=0)],
    reset: Annotated[
        BudgetReset, typer.Option(help="Window: daily, weekly, monthly (UTC), or never.")
    ] = BudgetReset.never,
    include_byok: Annotated[
        bool, typer.Option("--include-byok", help="Count usage of the org's own credentials too.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="A name to recognise it by.")] = None,
    workspace_id: Annotated[str | None, typer.Option(help="The workspace (scope workspace).")] = None,
    key_hash: Annotated[str | None, typer.Option(help="The key's hash (scope key).")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a budget (admin key with billing:write); requests that would pass it are refused."""
    with api_client(url, key) as client:
        budget = client.create_budget(
            scope.value,
            limit,
            reset=_reset(reset),
            include_byok=include_byok,
            name=name,
            workspace_id=workspace_id,
            key_hash=key_hash,
        )
    show(budget, as_json)


@app.command("update")
def update(
    budget_id: BudgetIdArgument,
    limit: Annotated[float | None, typer.Option(help="New USD per window.", min=0)] = None,
    reset: Annotated[BudgetReset | None, typer.Option(help="New window; 'never' stops resets.")] = None,
    include_byok: Annotated[
        bool | None,
        typer.Option("--include-byok/--exclude-byok", help="Count BYOK usage or not.", show_default=False),
    ] = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change only the given fields of a budget (admin key with billing:write)."""
    if limit is None and reset is None and include_byok is None and name is None:
        raise fail("nothing to change: pass at least one option (see --help)")
    with api_client(url, key) as client:
        budget = client.update_budget(
            budget_id,
            limit=UNSET if limit is None else limit,
            reset=UNSET if reset is None else _reset(reset),
            include_byok=UNSET if include_byok is None else include_byok,
            name=UNSET if name is None else name,
        )
    show(budget, as_json)


@app.command("delete")
def delete(
    budget_id: BudgetIdArgument,
    yes: YesOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a budget: what it capped is no longer capped by it."""
    confirm(f"Delete budget {budget_id}?", yes)
    with api_client(url, key) as client:
        client.delete_budget(budget_id)
    deleted(as_json, id=budget_id)
