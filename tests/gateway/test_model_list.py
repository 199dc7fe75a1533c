"""`/v1/models` lists what a key can call: discovered models of wildcard credentials (at create, on
update and on the schedule), explicit models and aliases, narrowed by the key and the project config.

Real servers on loopback (the keyplane gateway and the fake upstream), the official openai client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import AsyncExitStack

import httpx
import openai
import pytest

from keyplane.providers.discovery_schedule import (
    next_wait,
    refresh_wildcard_credentials,
    start_model_discovery,
)
from tests.factories import bearer
from tests.fakes.upstream import DEFAULT_MODELS, RunningUpstream
from tests.harness import GatewaySetup, ServedApp
from tests.providers.upstream import closed_port


@pytest.fixture
def upstream_models(upstream: RunningUpstream) -> Iterator[list[str]]:
    """The list the shared fake upstream answers `GET /models` with, restored after the test."""
    upstream.app.models = ["alpha", "beta"]
    yield upstream.app.models
    upstream.app.models = list(DEFAULT_MODELS)


@pytest.fixture
def discovering(setup: GatewaySetup, upstream_models: list[str]) -> GatewaySetup:
    """The production default the test settings turn off: discovery when a credential is written."""
    setup.context.settings.model_discovery_on_write = True
    return setup


async def _ids(served: ServedApp, key: str) -> list[str]:
    def call() -> list[str]:
        with openai.OpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
            return [model.id for model in client.models.list()]

    return await asyncio.to_thread(call)


async def _openai_pointed_at_upstream(setup: GatewaySetup) -> None:
    """Provider `openai` reaches the fake upstream, so a second provider serves explicit models."""
    response = await setup.client.put(
        "/api/v1/providers/openai/settings", json={"base_url": setup.upstream.base_url}, headers=setup.admin
    )
    assert response.status_code == 200, response.text


async def test_wildcard_credential_lists_what_discovery_found_at_create(
    discovering: GatewaySetup, served: ServedApp
) -> None:
    created = await discovering.add_credential(models=["*"])
    assert (created["status"], created["discovered_models"]) == ("success", ["alpha", "beta"])
    key, _ = await discovering.make_key()
    assert await _ids(served, key) == ["alpha", "beta"]


async def test_discovered_explicit_and_aliased_models_are_listed_once(
    discovering: GatewaySetup, served: ServedApp
) -> None:
    await discovering.add_credential(name="wild", models=["*"], aliases={"nice": "alpha"})
    await _openai_pointed_at_upstream(discovering)
    await discovering.add_credential(name="explicit", provider="openai", models=["gpt-explicit", "alpha"])
    key, _ = await discovering.make_key()
    assert await _ids(served, key) == ["alpha", "beta", "gpt-explicit", "nice"]


async def test_a_key_with_allowed_models_lists_only_those_it_can_reach(
    discovering: GatewaySetup, served: ServedApp
) -> None:
    await discovering.add_credential(models=["*"], aliases={"nice": "alpha"})
    key, _ = await discovering.make_key(allowed_models=["nice", "beta", "not-served"])
    # A wildcard credential may serve any name; the key's own list names what it means to call.
    assert await _ids(served, key) == ["beta", "nice", "not-served"]


async def test_the_project_config_drops_credentials_routing_would_not_use(
    discovering: GatewaySetup, served: ServedApp
) -> None:
    await discovering.add_credential(name="wild", models=["*"])
    await _openai_pointed_at_upstream(discovering)
    await discovering.add_credential(name="explicit", provider="openai", models=["gpt-explicit"])
    await discovering.set_project_config(allowed_providers=["openai"])
    key, _ = await discovering.make_key()
    assert await _ids(served, key) == ["gpt-explicit"]


async def test_anthropic_clients_get_the_same_list_in_their_shape(
    discovering: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await discovering.add_credential(models=["*"])
    key, _ = await discovering.make_key()
    headers = {**bearer(key), "anthropic-version": "2023-06-01"}
    listed = (await http.get(served.base_url + "/v1/models", headers=headers)).json()
    assert [model["id"] for model in listed["data"]] == ["alpha", "beta"]
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == ("alpha", "beta", False)


async def test_a_failed_discovery_does_not_fail_the_create(
    discovering: GatewaySetup, served: ServedApp
) -> None:
    created = await discovering.add_credential(models=["*"], url=f"http://127.0.0.1:{closed_port()}")
    assert created["status"] == "list_models_failed"
    assert created["description"] == "Could not connect to the provider"
    key, _ = await discovering.make_key()
    assert await _ids(served, key) == []


async def test_an_update_discovers_again_only_when_the_url_or_secret_changes(
    discovering: GatewaySetup, upstream_models: list[str]
) -> None:
    created = await discovering.add_credential(models=["*"])
    upstream_models.append("gamma")
    url = f"/api/providers/vllm/keys/{created['id']}"
    body = {"name": "fake", "value": "sk-upstream-secret", "models": ["*"], "platform": True}
    same = {**body, "vllm_key_config": {"url": f"http://127.0.0.1:{discovering.upstream.port}"}}
    kept = await discovering.client.put(url, json={**same, "weight": 2.0}, headers=discovering.admin)
    assert kept.json()["discovered_models"] == ["alpha", "beta"]
    moved = {**body, "vllm_key_config": {"url": f"http://127.0.0.1:{discovering.upstream.port}/other"}}
    changed = await discovering.client.put(url, json=moved, headers=discovering.admin)
    assert changed.json()["discovered_models"] == ["alpha", "beta", "gamma"]
    assert discovering.upstream.requests[-1].path == "/other/v1/models"


async def test_a_scheduled_pass_picks_up_a_new_upstream_model(
    discovering: GatewaySetup, served: ServedApp, upstream_models: list[str]
) -> None:
    created = await discovering.add_credential(models=["*"])
    await discovering.add_credential(name="explicit", models=["only-this"])
    assert created["discovered_models"] == ["alpha", "beta"]
    upstream_models.append("gamma")
    discovering.upstream.requests.clear()
    assert await refresh_wildcard_credentials(discovering.context) == 1
    assert [r.path for r in discovering.upstream.requests] == ["/v1/models"]  # explicit ones are not asked
    key, _ = await discovering.make_key()
    assert await _ids(served, key) == ["alpha", "beta", "gamma", "only-this"]


def test_passes_are_spread_over_the_interval() -> None:
    rng = random.Random(7)
    firsts = [next_wait(3600, rng, first=True) for _ in range(200)]
    assert all(0 <= wait < 3600 for wait in firsts) and max(firsts) - min(firsts) > 1800
    later = [next_wait(3600, rng, first=False) for _ in range(200)]
    assert all(3240 <= wait <= 3960 for wait in later) and len(set(later)) == len(later)


async def test_interval_zero_starts_no_schedule(setup: GatewaySetup) -> None:
    assert setup.context.settings.model_discovery_interval_seconds == 0
    tasks_before = asyncio.all_tasks()
    async with AsyncExitStack() as stack:
        await start_model_discovery(setup.context, stack)
        assert asyncio.all_tasks() == tasks_before
