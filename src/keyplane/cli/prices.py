"""`keyplane prices ...`: the price table metering charges by, over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from keyplane.cli.common import (
    JsonOption,
    KeyOption,
    UrlOption,
    api_client,
    deleted,
    show,
)
from keyplane.cli.output import Column, print_json, print_table

prices_app = typer.Typer(
    name="prices",
    help="List the price table metering uses; set or remove the operator's prices per model.",
    no_args_is_help=True,
)

PRICE_COLUMNS = (
    Column("model", whole=True),
    Column("input"),
    Column("output"),
    Column("cached"),
    Column("source"),
)
ModelArgument = Annotated[str, typer.Argument(help="The model name as requests send it, e.g. openai/gpt-4o.")]
UsdPerMillion = Annotated[float, typer.Argument(help="USD per million tokens.", min=0)]


class Source(StrEnum):
    default = "default"
    operator = "operator"


@prices_app.command("list")
def list_prices(
    source: Annotated[Source | None, typer.Option(help="Only built-in defaults or the operator's.")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The effective prices in USD per million tokens: built-in defaults overridden by yours."""
    with api_client(url, key) as client:
        found = client.list_prices()
    if source is not None:
        found = [price for price in found if price["source"] == source.value]
    if as_json:
        print_json(found)
    else:
        print_table(found, PRICE_COLUMNS, title=f"{len(found)} price(s), USD per million tokens")


@prices_app.command("set")
def set_price(
    model: ModelArgument,
    input_usd: UsdPerMillion,
    output_usd: UsdPerMillion,
    cached: Annotated[
        float, typer.Option(min=0, help="Cached prompt tokens; 0 charges them at the input price.")
    ] = 0,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the price of a model (admin key); metering uses it from the next request."""
    with api_client(url, key) as client:
        show(client.set_price(model, input_usd, output_usd, cached), as_json)


@prices_app.command("remove")
def remove_price(
    model: ModelArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Remove your price of a model: the built-in default, if there is one, applies again."""
    with api_client(url, key) as client:
        client.delete_price(model)
    deleted(as_json, model=model)
