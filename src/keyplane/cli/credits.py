"""`keyplane credits ...` and `keyplane rates ...`: the org ledger and exchange rates over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli.common import JsonOption, KeyOption, OrgIdOption, PageOption, UrlOption, api_client, show
from keyplane.cli.output import Column, fail, print_json, print_message, print_table

credits_app = typer.Typer(
    name="credits",
    help="Show the org balance, ledger and totals, and add credit on a running keyplane server.",
    no_args_is_help=True,
)
rates_app = typer.Typer(
    name="rates", help="List, show and set exchange rates from the base currency.", no_args_is_help=True
)

LEDGER_COLUMNS = (
    Column("id", whole=True),
    Column("created_at", "time"),
    Column("kind"),
    Column("amount"),
    Column("currency"),
    Column("note", flex=True),
    Column("user_id", "user"),
    Column("actor"),
)
RATE_COLUMNS = (
    Column("currency_code", "currency", whole=True),
    Column("rate"),
    Column("base_currency", "base"),
    Column("updated_at", "updated"),
)
CodeArgument = Annotated[str, typer.Argument(help="Three-letter currency code, e.g. EUR.")]


@credits_app.command("add")
def add(
    amount: Annotated[float, typer.Argument(help="Amount in the base currency (e.g. USD), greater than 0.")],
    note: Annotated[str, typer.Option(help="Why: invoice number, grant, ...")] = "",
    user_id: Annotated[str | None, typer.Option(help="Credit one member instead of the org.")] = None,
    org_id: Annotated[str | None, typer.Option(help="Org to credit (default: the key's own org).")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add credit to an org (operator admin key with billing:write); prints the entry and new balance."""
    with api_client(url, key) as client:
        entry = client.add_credit(amount, note=note, user_id=user_id, org_id=org_id)
    show(entry, as_json)


@credits_app.command("balance")
def balance(
    currency: Annotated[
        str | None, typer.Option(help="Show the balance in this currency (rate must be set).")
    ] = None,
    user_id: Annotated[str | None, typer.Option(help="One member's share of the ledger.")] = None,
    org_id: OrgIdOption = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The org balance: credits minus usage."""
    with api_client(url, key) as client:
        show(client.balance(currency=currency, user_id=user_id, org_id=org_id), as_json)


@credits_app.command("ledger")
def ledger(
    page: PageOption = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Entries per page.")] = 100,
    org_id: OrgIdOption = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The org's ledger, newest first: credits, usage and adjustments."""
    with api_client(url, key) as client:
        entries = client.list_ledger(page=page, page_size=page_size, org_id=org_id)
    if as_json:
        print_json(entries)
    else:
        print_table(entries, LEDGER_COLUMNS, title=f"{len(entries)} ledger entr(ies), page {page}")


@credits_app.command("totals")
def totals(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Every credit added and every cost charged so far (OpenRouter's GET /credits)."""
    with api_client(url, key) as client:
        show(client.credits(), as_json)


@rates_app.command("list")
def list_rates(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Every exchange rate the operator has set."""
    with api_client(url, key) as client:
        rates = client.list_exchange_rates()
    if as_json:
        print_json(rates)
    else:
        print_table(rates, RATE_COLUMNS, title=f"{len(rates)} rate(s)")


@rates_app.command("get")
def get_rate(
    code: CodeArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """One exchange rate."""
    with api_client(url, key) as client:
        rates = client.list_exchange_rates()
    found = [rate for rate in rates if rate["currency_code"] == code.strip().upper()]
    if not found:
        raise fail(f"no exchange rate for {code.strip().upper()}: set one with `keyplane rates set`")
    show(found[0], as_json)


@rates_app.command("set")
def set_rate(
    code: CodeArgument,
    rate: Annotated[float, typer.Argument(help="Units of CODE per one unit of the base currency.")],
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace a rate (admin key with billing:write)."""
    with api_client(url, key) as client:
        data = client.set_exchange_rate(code, rate)
    show(data, as_json)
    if not as_json:
        print_message(f"1 {data['base_currency']} = {data['rate']} {data['currency_code']}")
