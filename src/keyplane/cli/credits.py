"""`keyplane credits ...` and `keyplane rates ...`: the org ledger and exchange rates over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli.keys import JsonOption, KeyOption, UrlOption, api_client
from keyplane.cli.output import console, print_json, print_record, print_table

credits_app = typer.Typer(
    name="credits",
    help="Show the org balance and add credit on a running keyplane server.",
    no_args_is_help=True,
)
rates_app = typer.Typer(
    name="rates", help="List and set exchange rates from the base currency.", no_args_is_help=True
)


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
    if as_json:
        print_json(entry)
        return
    print_record(entry)
    console.print(f"balance: [bold]{entry['balance']}[/bold] {entry['currency']}")


@credits_app.command("balance")
def balance(
    currency: Annotated[
        str | None, typer.Option(help="Show the balance in this currency (rate must be set).")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The org balance: credits minus usage."""
    with api_client(url, key) as client:
        data = client.balance(currency=currency)
    if as_json:
        print_json(data)
    else:
        print_record(data)


@rates_app.command("list")
def list_rates(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Every exchange rate the operator has set."""
    with api_client(url, key) as client:
        rates = client.list_exchange_rates()
    if as_json:
        print_json(rates)
    else:
        print_table(rates, ("currency_code", "rate", "base_currency", "updated_at"))


@rates_app.command("set")
def set_rate(
    code: Annotated[str, typer.Argument(help="Three-letter currency code, e.g. EUR.")],
    rate: Annotated[float, typer.Argument(help="Units of CODE per one unit of the base currency.")],
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace a rate (admin key with billing:write)."""
    with api_client(url, key) as client:
        data = client.set_exchange_rate(code, rate)
    if as_json:
        print_json(data)
    else:
        print_record(data)
