"""A requested model that would climb out of the Azure deployment segment is a clear 400 in
OpenAI's shape, and nothing reaches the provider; a safe but odd name arrives escaped."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import bearer
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

MESSAGES = [{"role": "user", "content": "hi"}]


async def _azure(setup: GatewaySetup) -> str:
    await setup.add_credential(
        provider="azure", extra={"azure_key_config": {"endpoint": f"http://127.0.0.1:{setup.upstream.port}"}}
    )
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    return key


@pytest.mark.parametrize("model", ["../../admin", "x/../../y", "..", "a/b"])
async def test_a_model_that_escapes_the_deployment_path_is_refused(
    model: str, setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key = await _azure(setup)
    body = {"model": model, "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 400, "invalid_model")
    assert "cannot be used as an Azure deployment name" in error["message"]
    assert setup.upstream.requests == []


async def test_an_odd_model_name_arrives_as_one_segment(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key = await _azure(setup)
    body = {"model": "gpt 4o?x=1", "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    (sent,) = setup.upstream.requests
    assert sent.path == "/openai/deployments/gpt 4o?x=1/chat/completions"  # one segment, decoded
    assert sent.query.startswith("api-version=")
