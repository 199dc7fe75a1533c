"""Billing calls: budgets, the price table, exchange rates, the ledger and OpenRouter's credits."""

from __future__ import annotations

from typing import Any

from keyplane.client.calls import UNSET, Call, Unset, changes, nothing, params, path, reader
from keyplane.client.types import (
    Balance,
    Budget,
    BudgetScope,
    CreditEntry,
    Credits,
    ExchangeRate,
    LedgerEntry,
    Price,
    Reset,
)


def list_budgets(*, scope: BudgetScope | None = None) -> Call[list[Budget]]:
    """The org's budgets with their spend in the current window (org admins)."""
    return Call("GET", "/api/v1/budgets", reader(list[Budget]), params=params(scope=scope))


def get_budget(budget_id: str) -> Call[Budget]:
    return Call("GET", path("/api/v1/budgets/{}", budget_id), reader(Budget))


def create_budget(
    scope: BudgetScope,
    limit: float,
    *,
    reset: Reset | None = None,
    include_byok: bool = False,
    name: str | None = None,
    workspace_id: str | None = None,
    key_hash: str | None = None,
) -> Call[Budget]:
    """Cap the org, one workspace or one key at `limit` USD per window (admin, billing:write)."""
    body: dict[str, Any] = {"scope": scope, "limit": limit, "include_byok": include_byok}
    optional = {"reset": reset, "name": name, "workspace_id": workspace_id, "key_hash": key_hash}
    body.update({field: value for field, value in optional.items() if value is not None})
    return Call("POST", "/api/v1/budgets", reader(Budget), json=body)


def update_budget(
    budget_id: str,
    *,
    limit: float | Unset = UNSET,
    reset: Reset | Unset | None = UNSET,
    include_byok: bool | Unset = UNSET,
    name: str | Unset | None = UNSET,
) -> Call[Budget]:
    """Change only the given fields; `reset=None` makes the budget never reset."""
    body = changes(limit=limit, reset=reset, include_byok=include_byok, name=name)
    return Call("PATCH", path("/api/v1/budgets/{}", budget_id), reader(Budget), json=body)


def delete_budget(budget_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/budgets/{}", budget_id), nothing)


def list_prices() -> Call[list[Price]]:
    """The effective price table: built-in defaults overridden by the operator's prices."""
    return Call("GET", "/api/v1/model-prices", reader(list[Price]))


def set_price(model: str, input: float, output: float, cached: float = 0) -> Call[Price]:
    """USD per million tokens for a model; `cached` 0 charges cached prompt tokens at `input`."""
    body = {"input": input, "output": output, "cached": cached}
    url = "/api/v1/model-prices/" + path("{}", model).replace("%2F", "/")
    return Call("PUT", url, reader(Price), json=body)


def delete_price(model: str) -> Call[None]:
    """Drop the operator's price: the built-in default (if any) applies again."""
    url = "/api/v1/model-prices/" + path("{}", model).replace("%2F", "/")
    return Call("DELETE", url, nothing)


def balance(
    *, currency: str | None = None, user_id: str | None = None, org_id: str | None = None
) -> Call[Balance]:
    """The org balance (or one member's ledger share), optionally in another currency."""
    query = params(currency=currency, user_id=user_id, org_id=org_id)
    return Call("GET", "/api/v1/billing/balance", reader(Balance), params=query)


def add_credit(
    amount: float, *, note: str = "", user_id: str | None = None, org_id: str | None = None
) -> Call[CreditEntry]:
    """Credit an org (operator admin, billing:write) in the base currency; returns the ledger entry."""
    body: dict[str, Any] = {"amount": amount, "note": note}
    if user_id is not None:
        body["user_id"] = user_id
    if org_id is not None:
        body["org_id"] = org_id
    return Call("POST", "/api/v1/billing/credits", reader(CreditEntry), json=body)


def list_ledger(*, page: int = 1, page_size: int = 100, org_id: str | None = None) -> Call[list[LedgerEntry]]:
    """One page of the org's ledger (credits, usage, adjustments), newest first."""
    query = params(page=page, page_size=page_size, org_id=org_id)
    return Call("GET", "/api/v1/billing/ledger", reader(list[LedgerEntry]), params=query)


def credits() -> Call[Credits]:
    """Every credit added and every cost charged to the org so far (OpenRouter's GET /credits)."""
    return Call("GET", "/api/v1/credits", reader(Credits))


def list_exchange_rates() -> Call[list[ExchangeRate]]:
    return Call("GET", "/api/v1/billing/exchange-rates", reader(list[ExchangeRate]))


def set_exchange_rate(currency_code: str, rate: float) -> Call[ExchangeRate]:
    """Units of currency_code per one unit of the base currency (admin, billing:write)."""
    url = path("/api/v1/billing/exchange-rates/{}", currency_code)
    return Call("PUT", url, reader(ExchangeRate), json={"rate": rate})
