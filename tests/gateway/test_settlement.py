"""What a provider's answer means: its refusals for the caller, its usage and cost for the bill."""

from __future__ import annotations

import pytest

from keyplane.billing.pricing import Price
from keyplane.gateway.settlement import (
    MAX_USAGE_TOKENS,
    Usage,
    cost_nanos,
    delivered_usage,
    provider_refusal,
    stream_status,
    usage_from,
)
from keyplane.kernel.money import usd_to_nanos

TABLE = {"mine": Price(1_000_000_000, 2_000_000_000), "upstream-id": Price(5_000_000_000, 5_000_000_000)}


@pytest.mark.parametrize("status", [401, 403])
def test_a_provider_refusing_our_credential_is_a_502_without_the_providers_words(status: int) -> None:
    payload = {"error": {"message": "invalid api key sk-upstream-secret"}}
    assert provider_refusal(status, payload) == (
        502,
        "upstream_auth_error",
        "The provider rejected keyplane's credential",
    )


def test_another_provider_4xx_keeps_its_status_and_its_message_capped() -> None:
    assert provider_refusal(400, {"error": {"message": "x" * 5000}}) == (400, "upstream_error", "x" * 2000)
    generic = (422, "upstream_error", "The provider refused the request")
    assert provider_refusal(422, "not an object") == generic


def test_a_reported_cost_wins_over_the_price_table() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=1000, reported_cost_nanos=7)
    assert cost_nanos(usage, TABLE, ("mine",)) == 7
    assert not usage.needs_price()


def test_the_callers_model_is_priced_before_the_upstream_id() -> None:
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert usage.needs_price()
    assert cost_nanos(usage, TABLE, ("mine", "upstream-id")) == 3_000_000_000
    assert cost_nanos(usage, TABLE, ("unpriced", "upstream-id")) == 10_000_000_000
    assert cost_nanos(usage, TABLE, ("unpriced",)) == 0


def test_a_stream_without_usage_is_charged_for_what_was_delivered() -> None:
    assert delivered_usage(None, prompt_estimate=40, content_events=3) == Usage(40, 3)
    reported = Usage(10, 2)
    assert delivered_usage(reported, prompt_estimate=40, content_events=3) is reported


def test_a_stream_is_metered_502_when_broken_499_when_the_client_left() -> None:
    assert stream_status("broke off", client_gone=False) == 502
    assert stream_status("broke off", client_gone=True) == 502
    assert stream_status(None, client_gone=True) == 499
    assert stream_status(None, client_gone=False) == 200


def test_usage_ignores_negative_boolean_and_absurd_values() -> None:
    payload = {"usage": {"prompt_tokens": -5, "completion_tokens": True, "cost": 1e9}}
    assert usage_from(payload) == Usage(0, 0, 0, None, clamped=True)
    cached = {"usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}}
    assert usage_from(cached) == Usage(3, 0, 2, None)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ({"prompt_tokens": 2**31, "completion_tokens": 2**63}, Usage(MAX_USAGE_TOKENS, MAX_USAGE_TOKENS)),
        ({"prompt_tokens": -5, "completion_tokens": -(2**63)}, Usage(0, 0)),
        (
            {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2**40}},
            Usage(1, 0, MAX_USAGE_TOKENS),
        ),
        ({"prompt_tokens": 10, "cost": 999999}, Usage(10, 0, 0, None)),
        ({"prompt_tokens": 10, "cost": -3}, Usage(10, 0, 0, None)),
    ],
)
def test_absurd_usage_is_clamped_to_sane_bounds_and_flagged(
    reported: dict[str, object], expected: Usage
) -> None:
    usage = usage_from({"usage": reported})
    assert usage is not None and usage.clamped
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
        expected.cached_tokens,
    )
    assert usage.reported_cost_nanos == expected.reported_cost_nanos


def test_plausible_usage_is_kept_as_reported_and_not_flagged() -> None:
    usage = usage_from({"usage": {"prompt_tokens": MAX_USAGE_TOKENS, "completion_tokens": 3, "cost": 100}})
    assert usage == Usage(MAX_USAGE_TOKENS, 3, 0, usd_to_nanos(100), clamped=False)
