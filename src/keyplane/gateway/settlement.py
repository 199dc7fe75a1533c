"""What an upstream answer means for the bill and for the caller: usage, cost, a provider's refusal.

Pure and synchronous (no awaits, nothing per request beyond the answer's own objects): the gateway
service settles with these, the ASGI surface only renders what they decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keyplane.billing.pricing import Price, price_in
from keyplane.kernel.money import usd_to_nanos

# A provider refusing keyplane's own credential is keyplane's fault, not the caller's: 502.
UPSTREAM_CREDENTIAL_STATUSES = (401, 403)
PROVIDER_MESSAGE_LIMIT = 2000
CLIENT_GONE = 499
# Sane bounds for what a provider reports: beyond any context window, beyond any real request's
# price. Larger (or negative) numbers are a provider's bug: clamped (a cost ignored) and flagged.
MAX_USAGE_TOKENS = 10_000_000
MAX_REPORTED_COST_USD = 100


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from a cache (part of prompt_tokens)
    reported_cost_nanos: int | None = None
    cache_write_tokens: int = 0  # prompt tokens written to a cache (part of prompt_tokens)
    clamped: bool = False  # the provider reported absurd numbers (an anomaly worth a log line)

    def needs_price(self) -> bool:
        """True when the cost comes from the price table (tokens, and no cost reported)."""
        return self.reported_cost_nanos is None and bool(self.prompt_tokens or self.completion_tokens)


NO_USAGE = Usage()  # shared, never mutated: failures and refusals charge nothing


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def bounded_tokens(*counts: int) -> tuple[tuple[int, ...], bool]:
    """Token counts within 0..MAX_USAGE_TOKENS, and whether any had to be clamped (every dialect)."""
    bounded = tuple(min(max(n, 0), MAX_USAGE_TOKENS) for n in counts)
    return bounded, bounded != counts


def usage_from(payload: Any) -> Usage | None:
    """Token counts from an OpenAI `usage` object (and a provider's `cost` in USD when present),
    within sane bounds: tokens clamped to 0..MAX_USAGE_TOKENS, a cost outside 0..MAX_REPORTED_COST_USD
    not believed (the price table decides); either is flagged `clamped`."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    raw = (
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
        _count(details.get("cached_tokens")) if isinstance(details, dict) else 0,
    )
    (prompt, completion, cached), clamped = bounded_tokens(*raw)
    cost = usage.get("cost")
    reported = None
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        if 0 <= cost <= MAX_REPORTED_COST_USD:
            reported = usd_to_nanos(float(cost))
        else:
            clamped = True
    return Usage(prompt, completion, cached, reported, clamped=clamped)


def delivered_usage(reported: Usage | None, *, prompt_estimate: int, content_events: int) -> Usage:
    """A stream's usage: the provider's, else what was delivered, as estimated (one token an event)."""
    if reported is not None:
        return reported
    return Usage(prompt_tokens=prompt_estimate, completion_tokens=content_events)


def stream_status(error: str | None, *, client_gone: bool) -> int:
    """The status a stream is metered with: 502 broken off, 499 the client left, else 200."""
    if error is not None:
        return 502
    return CLIENT_GONE if client_gone else 200


def cost_nanos(usage: Usage, table: Mapping[str, Price] | None, names: tuple[str, ...]) -> int:
    """The provider's reported cost when present, else the price table's (first of `names` priced)."""
    if usage.reported_cost_nanos is not None:
        return usage.reported_cost_nanos
    if table is None or not (usage.prompt_tokens or usage.completion_tokens):
        return 0
    price = price_in(table, names)
    return price.cost_nanos(
        usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.cache_write_tokens
    )


def provider_refusal(status: int, payload: Any) -> tuple[int, str, str]:
    """A provider's 4xx as the caller sees it (status, code, message); a refused credential is a 502."""
    if status in UPSTREAM_CREDENTIAL_STATUSES:
        return 502, "upstream_auth_error", "The provider rejected keyplane's credential"
    message = "The provider refused the request"
    if isinstance(payload, dict):  # OpenAI's {"error": {"message"}}, or Cohere's and AWS's {"message"}
        error = payload.get("error")
        found = error.get("message") if isinstance(error, dict) else payload.get("message")
        if isinstance(found, str) and found:
            message = found[:PROVIDER_MESSAGE_LIMIT]
    return status, "upstream_error", message
