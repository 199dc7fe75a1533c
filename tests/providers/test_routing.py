"""The selection rules of routing.py, as pure functions."""

from __future__ import annotations

import random
from collections import Counter
from types import MappingProxyType

from keyplane.providers.eligibility import (
    RoutableCredential,
    eligible_credentials,
    normalize_openai_base,
    route_model,
    weighted_order,
)


def cred(
    id: str = "c1",
    *,
    models: tuple[str, ...] = (),
    blacklisted: tuple[str, ...] = (),
    aliases: dict[str, str] | None = None,
    weight: float = 1.0,
) -> RoutableCredential:
    return RoutableCredential(
        id=id,
        provider="openai",
        api_style="openai",
        base_url="http://127.0.0.1:1/v1",
        api_key="sk-test",
        models=models,
        blacklisted_models=blacklisted,
        aliases=MappingProxyType(aliases or {}),
        weight=weight,
        is_byok=False,
        org_id=None,
        eu_native=False,
        zero_data_retention=False,
        quantization=False,
        azure_api_version=None,
        uid=f"uid-{id}",
        egress_guarded=False,
    )


def test_empty_models_serves_every_model() -> None:
    assert route_model(cred(), "gpt-4o") == "gpt-4o"


def test_star_is_the_explicit_form_of_every_model() -> None:
    assert route_model(cred(models=("*",)), "anything") == "anything"


def test_whitelist_serves_only_listed_models() -> None:
    credential = cred(models=("gpt-4o",))
    assert route_model(credential, "gpt-4o") == "gpt-4o"
    assert route_model(credential, "gpt-4o-mini") is None


def test_blacklist_beats_whitelist() -> None:
    assert route_model(cred(models=("gpt-4o",), blacklisted=("gpt-4o",)), "gpt-4o") is None


def test_blacklist_beats_wildcard() -> None:
    assert route_model(cred(blacklisted=("o1",)), "o1") is None


def test_alias_maps_caller_name_to_upstream_id() -> None:
    credential = cred(models=("gpt-4o",), aliases={"gpt-4o": "my-deployment"})
    assert route_model(credential, "gpt-4o") == "my-deployment"


def test_alias_key_counts_as_served_under_a_whitelist() -> None:
    credential = cred(models=("other",), aliases={"fast": "llama-3.1-8b"})
    assert route_model(credential, "fast") == "llama-3.1-8b"


def test_blacklisted_upstream_id_is_not_reachable_through_an_alias() -> None:
    credential = cred(aliases={"fast": "banned"}, blacklisted=("banned",))
    assert route_model(credential, "fast") is None


def test_eligible_credentials_keeps_order_and_upstream_ids() -> None:
    a = cred("a", models=("m",))
    b = cred("b", models=("x",))
    c = cred("c", aliases={"m": "m-upstream"})
    assert eligible_credentials([a, b, c], "m") == [(a, "m"), (c, "m-upstream")]


def test_weighted_order_is_a_permutation() -> None:
    items = ["a", "b", "c", "d"]
    order = weighted_order(items, [1, 2, 3, 4], random.Random(1))
    assert sorted(order) == items


def test_weight_zero_comes_after_every_positive_weight() -> None:
    rng = random.Random(7)
    for _ in range(200):
        order = weighted_order(["standby", "a", "b"], [0.0, 0.001, 5.0], rng)
        assert order[-1] == "standby"


def test_first_pick_follows_the_weights() -> None:
    rng = random.Random(42)
    firsts = Counter(weighted_order(["a", "b"], [3.0, 1.0], rng)[0] for _ in range(4000))
    share = firsts["a"] / 4000
    assert 0.70 < share < 0.80


def test_weighted_order_is_deterministic_for_a_seed() -> None:
    items = list(range(10))
    weights = [1.0] * 10
    assert weighted_order(items, weights, random.Random(3)) == weighted_order(
        items, weights, random.Random(3)
    )


def test_server_url_becomes_an_openai_base() -> None:
    assert normalize_openai_base("http://h:8000/") == "http://h:8000/v1"
    assert normalize_openai_base("http://h:8000/v1") == "http://h:8000/v1"
    assert normalize_openai_base("https://h/openai/v1") == "https://h/openai/v1"
