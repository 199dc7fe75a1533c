"""The gateway's per-key guards: allowed_ips (403 ip_not_allowed for other clients, X-Forwarded-For
only through KEYPLANE_TRUSTED_PROXIES), usage tags (the key's and X-Keyplane-Tags, 400 when
malformed) and max_concurrency (429 concurrency_limit, every slot freed when its request ends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.models import UsageRecordTag
from tests.factories import bearer
from tests.fakes.upstream import RunningUpstream
from tests.gateway.test_enforcement import CHAT, _key, assert_openai_error
from tests.harness import GatewaySetup, ServedApp, eventually

MESSAGES = {"model": "gpt-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def from_address(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests reach the in-process app from this socket peer address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _status(app: FastAPI, address: str, key: str, **headers: str) -> httpx.Response:
    async with from_address(app, address) as client:
        return await client.post("/v1/chat/completions", json=CHAT, headers={**bearer(key), **headers})


async def test_an_ipv4_allowlist_serves_its_networks_only(setup: GatewaySetup, app: FastAPI) -> None:
    key, _ = await _key(setup, allowed_ips=["192.0.2.0/24", "198.51.100.7"])
    assert (await _status(app, "192.0.2.10", key)).status_code == 200
    assert (await _status(app, "198.51.100.7", key)).status_code == 200
    refused = await _status(app, "198.51.100.8", key)
    error = assert_openai_error(refused, 403, "ip_not_allowed")
    assert "198.51.100.8" in error["message"]


async def test_an_ipv6_allowlist_serves_its_networks_only(setup: GatewaySetup, app: FastAPI) -> None:
    key, _ = await _key(setup, allowed_ips=["2001:db8::/32"])
    assert (await _status(app, "2001:db8:1::9", key)).status_code == 200
    assert_openai_error(await _status(app, "2001:db9::1", key), 403, "ip_not_allowed")
    assert_openai_error(await _status(app, "192.0.2.10", key), 403, "ip_not_allowed")


async def test_the_anthropic_paths_refuse_in_anthropics_shape(setup: GatewaySetup, app: FastAPI) -> None:
    key, _ = await _key(setup, allowed_ips=["192.0.2.0/24"])
    async with from_address(app, "203.0.113.1") as client:
        response = await client.post("/v1/messages", json=MESSAGES, headers={"x-api-key": key})
    assert response.status_code == 403
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "permission_error"


async def test_forwarded_addresses_count_only_through_a_trusted_proxy(
    setup: GatewaySetup, app: FastAPI
) -> None:
    key, _ = await _key(setup, allowed_ips=["203.0.113.7", "2001:db8::/32"])
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    # Not a trusted proxy: the header is the client's own claim, the peer is the address.
    assert_openai_error(await _status(app, "10.0.0.1", key, **forwarded), 403, "ip_not_allowed")
    setup.context.settings.trusted_proxies = "10.0.0.1"
    try:
        assert (await _status(app, "10.0.0.1", key, **forwarded)).status_code == 200
        ipv6 = {"X-Forwarded-For": "2001:db8::5"}
        assert (await _status(app, "10.0.0.1", key, **ipv6)).status_code == 200
        # The right-most untrusted hop is the client; a spoofed entry left of it changes nothing.
        spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        assert (await _status(app, "10.0.0.1", key, **spoofed)).status_code == 200
        behind = {"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}
        assert_openai_error(await _status(app, "10.0.0.1", key, **behind), 403, "ip_not_allowed")
    finally:
        setup.context.settings.trusted_proxies = ""


async def test_a_key_without_an_allowlist_serves_any_client(setup: GatewaySetup, app: FastAPI) -> None:
    key, _ = await _key(setup)
    assert (await _status(app, "2001:db8::1", key)).status_code == 200


async def test_key_tags_and_request_tags_are_stored_with_the_usage(
    setup: GatewaySetup, client: httpx.AsyncClient
) -> None:
    key, _ = await _key(setup, tags=["team-a"])
    headers = {**bearer(key), "X-Keyplane-Tags": " feature-x ,team-a", "x-keyplane-tags": "env:prod"}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))).status_code == 200
    rows = await setup.wait_for_usage(2)
    assert [row.tags for row in rows] == [["team-a", "feature-x", "env:prod"], ["team-a"]]
    async with setup.context.sessions() as session:
        pairs = (await session.execute(select(UsageRecordTag.record_id, UsageRecordTag.tag))).all()
    assert sorted(pairs) == sorted(
        [(rows[0].id, "team-a"), (rows[0].id, "feature-x"), (rows[0].id, "env:prod"), (rows[1].id, "team-a")]
    )


@pytest.mark.parametrize("value", ["has space", "a,,b", "x" * 65, ",".join(f"t{i}" for i in range(11)), "é"])
async def test_malformed_request_tags_are_a_400_before_anything_is_forwarded(
    setup: GatewaySetup, client: httpx.AsyncClient, upstream: RunningUpstream, value: str
) -> None:
    key, _ = await _key(setup)
    headers: dict[str, str | bytes] = {**bearer(key), "X-Keyplane-Tags": value.encode()}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert_openai_error(response, 400, "invalid_tags")
    assert upstream.requests == []


async def _limited_key(setup: GatewaySetup, **fields: object) -> str:
    """A key whose credential also serves the fake upstream's misbehaving models."""
    await setup.add_credential(models=["gpt-test", "slow", "fail-500", "cut-stream"])
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(10.0)
    return (await setup.make_key(**fields))[0]


async def _slow(client: httpx.AsyncClient, key: str) -> httpx.Response:
    body = {**CHAT, "model": "slow"}
    return await client.post("/v1/chat/completions", json=body, headers=bearer(key), timeout=30)


async def _in_flight(upstream: RunningUpstream, count: int) -> None:
    async def arrived() -> bool:
        return len(upstream.requests) >= count

    await eventually(arrived)


async def test_requests_beyond_max_concurrency_are_a_429_until_one_ends(
    setup: GatewaySetup, client: httpx.AsyncClient, upstream: RunningUpstream
) -> None:
    key = await _limited_key(setup, max_concurrency=1)
    first = asyncio.create_task(_slow(client, key))
    await _in_flight(upstream, 1)
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))
    assert_openai_error(refused, 429, "concurrency_limit")
    assert refused.headers["retry-after"] == "1"
    assert (await first).status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {**CHAT, "model": "fail-500"},  # the upstream failed
        {**CHAT, "model": "unknown-model"},  # refused after the slot was taken: no route
        {**CHAT, "stream": True},  # a stream to its end
        {**CHAT, "model": "cut-stream", "stream": True},  # a stream broken off
        {**CHAT, "max_tokens": 10**8},  # refused by the key's limit (402) after the slot was taken
    ],
)
async def test_every_way_a_request_ends_frees_its_slot(
    setup: GatewaySetup, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    key = await _limited_key(setup, max_concurrency=1, limit=1)
    for _ in range(3):
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
        assert response.status_code != 429, response.text
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))).status_code == 200


async def test_a_client_that_goes_away_frees_its_slot(
    setup: GatewaySetup, served: ServedApp, upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    served_gateway = served.base_url
    key = await _limited_key(setup, max_concurrency=1)
    gone = asyncio.create_task(_slow_at(http, served_gateway, key))
    await _in_flight(upstream, 1)
    gone.cancel()  # the client closes its connection mid-request
    with pytest.raises(asyncio.CancelledError):
        await gone

    async def freed() -> bool:
        response = await http.post(served_gateway + "/v1/chat/completions", json=CHAT, headers=bearer(key))
        return response.status_code == 200

    await eventually(freed, within=15)


async def _slow_at(http: httpx.AsyncClient, base_url: str, key: str) -> httpx.Response:
    body = {**CHAT, "model": "slow"}
    return await http.post(base_url + "/v1/chat/completions", json=body, headers=bearer(key), timeout=30)
