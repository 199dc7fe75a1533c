"""Model prices (nano-USD per million tokens) and the cost of a request, rounded up, never down.

Operators edit the table `model_prices` (PUT /api/v1/model-prices/{model}; each committed change
drops the gateway's cached table, see price_changes.py); the small built-in
table below is used for models that have no row. A model with neither is metered at zero cost.
A cached-token price of 0 means "no discount": cached prompt tokens are charged at the input price.
A cache-write price of None (the default) charges prompt tokens written to a cache at the input price.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.audit import service as audit
from keyplane.billing.price_changes import mark_prices_changed
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.money import NANOS_PER_USD, is_valid_amount, nanos_to_usd, usd_to_nanos
from keyplane.kernel.permissions import require_admin, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import BILLING_WRITE
from keyplane.kernel.writes import upsert
from keyplane.models import ModelPrice
from keyplane.models.base import utcnow

PER_MTOK = 1_000_000
MAX_MODEL_NAME = 200


@dataclass(frozen=True, slots=True)
class Price:
    input_nanos_per_mtok: int
    output_nanos_per_mtok: int
    cached_nanos_per_mtok: int = 0
    cache_write_nanos_per_mtok: int | None = None

    @property
    def cache_write_rate(self) -> int:
        rate = self.cache_write_nanos_per_mtok
        return self.input_nanos_per_mtok if rate is None else rate

    def cost_nanos(
        self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, cache_write_tokens: int = 0
    ) -> int:
        """Exact integer cost, rounded up to the next nano-USD; cache reads and writes are part of
        `prompt_tokens`, each priced at its own rate."""
        cached = max(0, min(cached_tokens, prompt_tokens))
        written = max(0, min(cache_write_tokens, prompt_tokens - cached))
        cached_rate = self.cached_nanos_per_mtok or self.input_nanos_per_mtok
        total = (
            (prompt_tokens - cached - written) * self.input_nanos_per_mtok
            + cached * cached_rate
            + written * self.cache_write_rate
            + completion_tokens * self.output_nanos_per_mtok
        )
        return -(-total // PER_MTOK) if total > 0 else 0

    def worst_cost_nanos(self, prompt_tokens: int, completion_tokens: int) -> int:
        """The most `prompt_tokens` could cost (all of them written to a cache when that costs more)."""
        return self.cost_nanos(
            prompt_tokens,
            completion_tokens,
            0,
            prompt_tokens if self.cache_write_rate > self.input_nanos_per_mtok else 0,
        )


def _usd(
    input_usd: float, output_usd: float, cached_usd: float = 0.0, write_usd: float | None = None
) -> Price:
    write = None if write_usd is None else usd_to_nanos(write_usd)
    return Price(usd_to_nanos(input_usd), usd_to_nanos(output_usd), usd_to_nanos(cached_usd), write)


# USD per million tokens (input, output, cached input), public list prices at the time of writing.
DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-4o": _usd(2.5, 10.0, 1.25),
    "gpt-4o-mini": _usd(0.15, 0.6, 0.075),
    "gpt-4.1": _usd(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _usd(0.4, 1.6, 0.1),
    "gpt-4.1-nano": _usd(0.1, 0.4, 0.025),
    "o4-mini": _usd(1.1, 4.4, 0.275),
    "text-embedding-3-small": _usd(0.02, 0.0),
    "text-embedding-3-large": _usd(0.13, 0.0),
    # Anthropic: cache reads at 0.1x input, 5-minute cache writes at 1.25x.
    "claude-opus-4-1": _usd(15.0, 75.0, 1.5, 18.75),
    "claude-sonnet-4-5": _usd(3.0, 15.0, 0.3, 3.75),
    "claude-sonnet-4-0": _usd(3.0, 15.0, 0.3, 3.75),
    "claude-haiku-4-5": _usd(1.0, 5.0, 0.1, 1.25),
    "claude-3-5-haiku-latest": _usd(0.8, 4.0, 0.08, 1.0),
}
FREE = Price(0, 0, 0)


def price_from_row(row: ModelPrice) -> Price:
    return Price(
        row.input_nanousd_per_mtok,
        row.output_nanousd_per_mtok,
        row.cached_nanousd_per_mtok,
        row.cache_write_nanousd_per_mtok,
    )


def price_as_dict(model: str, price: Price, *, source: str) -> dict[str, object]:
    return {
        "model": model,
        "input": nanos_to_usd(price.input_nanos_per_mtok),
        "output": nanos_to_usd(price.output_nanos_per_mtok),
        "cached": nanos_to_usd(price.cached_nanos_per_mtok),
        "cache_write": nanos_to_usd(price.cache_write_rate),
        "unit": "USD per million tokens",
        "source": source,
    }


async def load_prices(session: AsyncSession) -> dict[str, Price]:
    """The effective table: built-in defaults overridden by the operator's rows."""
    table = dict(DEFAULT_PRICES)
    for row in (await session.execute(select(ModelPrice))).scalars():
        table[row.model] = price_from_row(row)
    return table


def _check_rate(value: float, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not is_valid_amount(float(value)):
        raise BadRequest(f"{name} must be a number of USD per million tokens, 0 or more")
    if not math.isfinite(value) or value * NANOS_PER_USD > 2**62:
        raise BadRequest(f"{name} is too large")
    return usd_to_nanos(float(value))


async def set_price(
    *,
    session: AsyncSession,
    principal: Principal,
    model: str,
    input_usd: float,
    output_usd: float,
    cached_usd: float = 0.0,
    cache_write_usd: float | None = None,
) -> Price:
    """Create or replace one model's price; the table is global, so only operator admins set it.

    `cache_write_usd` None: prompt tokens written to a cache cost the input price.
    """
    require_admin(principal, BILLING_WRITE)
    require_operator_admin(principal, "Model prices")
    model = model.strip()
    if not model or len(model) > MAX_MODEL_NAME:
        raise BadRequest(f"model must be 1 to {MAX_MODEL_NAME} characters")
    price = Price(
        _check_rate(input_usd, "input"),
        _check_rate(output_usd, "output"),
        _check_rate(cached_usd, "cached"),
        None if cache_write_usd is None else _check_rate(cache_write_usd, "cache_write"),
    )
    values = {
        "model": model,
        "input_nanousd_per_mtok": price.input_nanos_per_mtok,
        "output_nanousd_per_mtok": price.output_nanos_per_mtok,
        "cached_nanousd_per_mtok": price.cached_nanos_per_mtok,
        "cache_write_nanousd_per_mtok": price.cache_write_nanos_per_mtok,
        "updated_at": utcnow(),
    }
    await upsert(session, ModelPrice, values, key=["model"])
    mark_prices_changed(session)
    await audit.record(
        session,
        principal,
        "model_price.set",
        audit.Target("model_price", model, principal.org_id),
        input=input_usd,
        output=output_usd,
        cached=cached_usd,
        cache_write=cache_write_usd,
    )
    return price


async def delete_price(*, session: AsyncSession, principal: Principal, model: str) -> None:
    """Remove an operator price (the built-in default, if any, applies again); operator admins only."""
    require_admin(principal, BILLING_WRITE)
    require_operator_admin(principal, "Model prices")
    result = await session.execute(delete(ModelPrice).where(ModelPrice.model == model))
    if not getattr(result, "rowcount", 0):
        raise NotFound("No price set for this model")
    mark_prices_changed(session)
    await audit.record(
        session, principal, "model_price.deleted", audit.Target("model_price", model, principal.org_id)
    )


class PriceCache:
    """The effective price table, reloaded at most every `ttl_seconds`; one loader at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_seconds: float) -> None:
        self._sessions = sessions
        self.ttl = ttl_seconds
        self._table: dict[str, Price] = dict(DEFAULT_PRICES)
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = -math.inf

    def fresh_table(self) -> dict[str, Price] | None:
        """The table when it is fresh (no await on the hot path), else None."""
        return self._table if time.monotonic() - self._loaded_at < self.ttl else None

    async def table(self) -> dict[str, Price]:
        if time.monotonic() - self._loaded_at < self.ttl:
            return self._table
        async with self._lock:
            if time.monotonic() - self._loaded_at >= self.ttl:
                async with self._sessions() as session:
                    self._table = await load_prices(session)
                self._loaded_at = time.monotonic()
        return self._table

    async def price_for(self, *names: str) -> Price:
        """The first of the names (the caller's model, then the upstream id) that has a price."""
        table = self.fresh_table() or await self.table()
        return price_in(table, names)


def price_in(table: Mapping[str, Price], names: tuple[str, ...]) -> Price:
    for name in names:
        price = table.get(name)
        if price is not None:
            return price
    return FREE
