"""Refusals in OpenAI's error shape: 401 bad keys, 403 key or model, 402 limits, 429 rates, 400/413 input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import update

from keyplane.db import session_scope
from keyplane.models import ApiKey
from keyplane.models.base import utcnow
from tests.factories import bearer
from tests.harness import GatewaySetup, ServedApp

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    result: dict[str, Any] = error
    return result


async def _key(setup: GatewaySetup, credit: float = 10.0, **fields: Any) -> tuple[str, str]:
    await setup.add_credential(models=["gpt-test", "other-model"])
    await setup.set_price("gpt-test", 2.0, 8.0)
    if credit:
        await setup.add_credit(credit)
    return await setup.make_key(**fields)


async def test_missing_and_unknown_keys_are_401(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    url = served.base_url + "/v1/chat/completions"
    assert_openai_error(await http.post(url, json=CHAT), 401, "missing_auth")
    assert_openai_error(await http.post(url, json=CHAT, headers=bearer("sk-kp-v1-" + "0" * 64)), 401)
    assert_openai_error(await http.post(url, json=CHAT, headers=bearer("nonsense")), 401)
    response = await http.get(served.base_url + "/api/v1/models", headers=bearer("sk-kp-v1-" + "1" * 64))
    error = assert_openai_error(response, 401)
    assert error["type"] == "authentication_error"


async def test_disabled_revoked_and_expired_keys_are_401(setup: GatewaySetup, served: ServedApp) -> None:
    disabled, disabled_hash = await _key(setup)
    await setup.update_key(disabled_hash, disabled=True)
    expired, expired_hash = await setup.make_key()
    revoked, revoked_hash = await setup.make_key()
    async with session_scope(setup.context.sessions) as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.hash == expired_hash)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.execute(update(ApiKey).where(ApiKey.hash == revoked_hash).values(revoked=True))
    for key, reason in ((disabled, "disabled"), (expired, "expired"), (revoked, "revoked")):
        async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError, match=reason):
                await client.chat.completions.create(**CHAT)
    assert setup.upstream.requests == []


async def test_management_key_is_403(setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient) -> None:
    await _key(setup)
    response = await http.post(served.base_url + "/v1/chat/completions", json=CHAT, headers=setup.admin)
    assert_openai_error(response, 403, "not_inference_key")


async def test_model_outside_allowed_models_is_403(setup: GatewaySetup, served: ServedApp) -> None:
    key, key_hash = await _key(setup)
    await setup.update_key(key_hash, allowed_models=["other-model"])
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.PermissionDeniedError, match="gpt-test"):
            await client.chat.completions.create(**CHAT)
        assert [m.id async for m in client.models.list()] == ["other-model"]


async def test_key_limit_refuses_with_402_naming_the_limit_and_reset(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _key(setup, limit=0.001, limit_reset="daily")
    statuses = []
    for _ in range(10):
        response = await http.post(served.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
        statuses.append(response.status_code)
        if response.status_code == 402:
            error = assert_openai_error(response, 402, "limit_exceeded")
            assert "Key limit (daily)" in error["message"] and "resets at" in error["message"]
            break
    assert statuses[0] == 200 and statuses[-1] == 402
    rows = await setup.wait_for_usage(statuses.count(200))
    assert sum(r.cost_nanousd for r in rows) <= 1_000_000


async def test_workspace_budget_refuses_with_402(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _key(setup)
    await setup.add_budget(
        scope="workspace", limit_usd=0.0001, reset="monthly", workspace_id=setup.org.workspace_id
    )
    response = await http.post(served.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
    error = assert_openai_error(response, 402, "limit_exceeded")
    assert "Workspace budget" in error["message"] and "monthly" in error["message"]


async def test_a_tenants_empty_balance_refuses_platform_credentials_with_402(
    setup: GatewaySetup, served: ServedApp
) -> None:
    await _key(setup, credit=0)  # the operator's platform credential and price
    tenant = await setup.tenant()
    key, _ = await tenant.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError, match="Insufficient balance") as caught:
            await client.chat.completions.create(**CHAT)
    assert caught.value.status_code == 402
    assert setup.upstream.requests == []


async def test_the_operator_orgs_keys_need_no_credit_by_default(
    setup: GatewaySetup, served: ServedApp
) -> None:
    key, _ = await _key(setup, credit=0)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(**CHAT)
    (row,) = await setup.wait_for_usage(1)
    assert not row.is_byok and row.cost_nanousd > 0  # charged as platform spend, balance not enforced


async def test_the_operator_can_enforce_its_own_balance(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp]
) -> None:
    served = serve_app(enforce_operator_balance=True)
    key, _ = await _key(setup, credit=0)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError, match="Insufficient balance") as caught:
            await client.chat.completions.create(**CHAT)
    assert caught.value.status_code == 402


async def test_empty_balance_still_serves_byok_credentials(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp]
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    tenant = await setup.tenant()
    await tenant.add_credential(models=["gpt-test"], platform=False, name="own")
    key, _ = await tenant.make_key()
    assert await tenant.balance() == 0
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        completion = await client.chat.completions.create(**CHAT)
    assert completion.choices[0].message.content
    (row,) = await setup.wait_for_usage(1)
    assert (row.org_id, row.is_byok, row.status_code) == (tenant.org.org_id, True, 200)
    assert setup.upstream.requests[-1].headers["authorization"] == "Bearer sk-upstream-secret"


async def test_requests_per_minute_limit_is_429_with_retry_after(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, key_hash = await _key(setup)
    await setup.update_key(key_hash, rate_limit_rpm=2)
    url = served.base_url + "/v1/chat/completions"
    for _ in range(2):
        assert (await http.post(url, json=CHAT, headers=bearer(key))).status_code == 200
    response = await http.post(url, json=CHAT, headers=bearer(key))
    assert_openai_error(response, 429, "rate_limit_rpm")
    assert 1 <= int(response.headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "invalid_model"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "invalid_model"),
        (b'{"model": "gpt-test", "messages": "hello"}', "invalid_messages"),
        (
            b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
            "invalid_type",
        ),
        (
            b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3}',
            "invalid_type",
        ),
    ],
)
async def test_bad_input_is_400(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient, body: bytes, code: str | None
) -> None:
    key, _ = await _key(setup)
    headers = {**bearer(key), "content-type": "application/json"}
    response = await http.post(served.base_url + "/v1/chat/completions", content=body, headers=headers)
    error = assert_openai_error(response, 400, code)
    assert error["type"] == "invalid_request_error"


async def test_huge_body_is_413(setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient) -> None:
    key, _ = await _key(setup)
    huge = {"model": "gpt-test", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=huge, headers=bearer(key))
    assert_openai_error(response, 413)

    async def chunks() -> Any:
        yield b'{"model": "gpt-test", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"y" * 65536
            await asyncio.sleep(0)
        yield b'"}]}'

    response = await http.post(served.base_url + "/v1/embeddings", content=chunks(), headers=bearer(key))
    assert_openai_error(response, 413)


async def test_wrong_method_and_unknown_model_use_the_openai_shape(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _key(setup)
    assert_openai_error(await http.get(served.base_url + "/v1/chat/completions", headers=bearer(key)), 405)
    body = {**CHAT, "model": "no-such-model"}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert_openai_error(response, 404, "model_not_found")
