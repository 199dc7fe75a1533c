"""`keyplane webhooks ...`: endpoints that receive signed threshold alerts, and their deliveries."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from keyplane.cli.common import JsonOption, KeyOption, UrlOption, YesOption, api_client, confirm, deleted
from keyplane.cli.output import Column, print_json, print_message, print_record, print_table
from keyplane.client.types import WebhookEvent

app = typer.Typer(
    name="webhooks",
    help="Send budget.threshold alerts (80/95/100 % of a key limit, budget or balance) to a URL.",
    no_args_is_help=True,
)

COLUMNS = (
    Column("id", whole=True),
    Column("url", whole=True),
    Column("events"),
    Column("description", flex=True),
    Column("created_at", "created"),
)
DELIVERY_COLUMNS = (
    Column("id", whole=True),
    Column("status"),
    Column("attempts"),
    Column("last_status_code", "last status"),
    Column("next_attempt_at", "next attempt"),
    Column("created_at", "created"),
    Column("subject"),
    Column("threshold"),
    Column("last_error", "last error", flex=True),
)


class Event(StrEnum):
    budget_threshold = "budget.threshold"


EVENTS: dict[Event, WebhookEvent] = {Event.budget_threshold: "budget.threshold"}
WebhookIdArgument = Annotated[str, typer.Argument(help="The webhook's id (wh_...).")]


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Where to POST events: a public http(s) URL.")],
    event: Annotated[
        list[Event] | None, typer.Option("--event", help="An event to receive (repeatable).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the endpoint is for.")] = None,
    url_option: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe a URL (admin key); the signing secret is printed once and never again."""
    events: list[WebhookEvent] = [EVENTS[e] for e in event or [Event.budget_threshold]]
    with api_client(url_option, key) as client:
        created = client.create_webhook(url, events, description=description)
    if as_json:
        print_json(created)
        return
    print_record(dict(created["data"]))
    print_message(f"secret: {created['secret']}  (shown once: receivers verify signatures with it)")


@app.command("list")
def list_webhooks(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The org's webhook endpoints."""
    with api_client(url, key) as client:
        found = client.list_webhooks()
    if as_json:
        print_json(found)
    else:
        print_table(found, COLUMNS, title=f"{len(found)} webhook(s)")


@app.command("remove")
def remove(
    webhook_id: WebhookIdArgument,
    yes: YesOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an endpoint; deliveries not yet sent to it are dropped."""
    confirm(f"Delete webhook {webhook_id}?", yes)
    with api_client(url, key) as client:
        client.delete_webhook(webhook_id)
    deleted(as_json, id=webhook_id)


def _row(delivery: Any) -> dict[str, Any]:
    data = delivery.get("payload", {}).get("data", {})
    return {**delivery, "subject": data.get("subject"), "threshold": data.get("threshold")}


@app.command("deliveries")
def deliveries(
    webhook_id: WebhookIdArgument,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many, newest first.")] = 100,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """What was sent to an endpoint: pending (and when it is retried), delivered or failed."""
    with api_client(url, key) as client:
        found = client.list_webhook_deliveries(webhook_id, limit=limit)
    if as_json:
        print_json(found)
    else:
        print_table([_row(d) for d in found], DELIVERY_COLUMNS, title=f"{len(found)} deliveries")
