"""The README's default path as a newcomer walks it: a real `keyplane serve` on a fresh database
(`keyplane init`), one credential in the operator org, one key with limit $1, the `openai` client."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.upstream import RunningUpstream
from tests.harness import eventually
from tests.live_server import LiveServer

# $0.001 per prompt token, $0.002 per completion token: the fake's 10 + 20 tokens cost $0.05 a call,
# and the default 4,096-token reservation ($8+) never fits a $1 limit.
INPUT_USD_PER_MTOK, OUTPUT_USD_PER_MTOK = 1000.0, 2000.0
INPUT_NANOS_PER_TOKEN, OUTPUT_NANOS_PER_TOKEN = 1_000_000, 2_000_000
LIMIT_NANOS = 1_000_000_000


async def test_a_key_with_limit_1_spends_up_to_1_and_never_beyond(
    live_server: LiveServer, upstream: RunningUpstream
) -> None:
    admin = {"Authorization": f"Bearer {live_server.management_key}"}
    async with httpx.AsyncClient(base_url=live_server.base_url, headers=admin, timeout=30) as api:
        credential = await api.post(
            "/api/providers/vllm/keys",
            json={
                "name": "my vllm",
                "value": "sk-upstream-secret",
                "models": ["gpt-test"],
                "vllm_key_config": {"url": f"http://127.0.0.1:{upstream.port}"},
            },
        )
        assert credential.status_code == 200, credential.text
        price = await api.put(
            "/api/v1/model-prices/gpt-test", json={"input": INPUT_USD_PER_MTOK, "output": OUTPUT_USD_PER_MTOK}
        )
        assert price.status_code == 200, price.text
        created = await api.post("/api/v1/keys", json={"name": "my app", "limit": 1})
        assert created.status_code == 201, created.text
        secret, key_hash = created.json()["key"], created.json()["data"]["hash"]

        spent = 0
        lowered: list[int] = []
        refusal: openai.APIStatusError | None = None
        async with openai.AsyncOpenAI(
            base_url=live_server.base_url + "/v1", api_key=secret, max_retries=0
        ) as client:
            for _ in range(60):
                try:
                    raw = await client.chat.completions.with_raw_response.create(
                        model="gpt-test", messages=[{"role": "user", "content": "hello"}]
                    )
                except openai.APIStatusError as exc:
                    refusal = exc
                    break
                answer = raw.parse()
                assert answer.usage is not None
                spent += (
                    answer.usage.prompt_tokens * INPUT_NANOS_PER_TOKEN
                    + answer.usage.completion_tokens * OUTPUT_NANOS_PER_TOKEN
                )
                lowered.append(int(raw.headers["x-keyplane-max-tokens-lowered"]))
                assert spent <= LIMIT_NANOS

        assert refusal is not None and refusal.status_code == 402
        message = refusal.message
        assert "Key limit (total) of $1.000000 reached" in message and "left" in message, message
        assert "needs up to" in message and "max_tokens" in message, message
        assert len(lowered) >= 15  # every call ran (lowered to what the limit pays for) until it was spent
        assert lowered == sorted(lowered, reverse=True)
        # Refused only when not even a minimal answer (16 tokens) fits in what was left.
        minimal = 60 * INPUT_NANOS_PER_TOKEN + 16 * OUTPUT_NANOS_PER_TOKEN
        assert LIMIT_NANOS - spent < minimal

        async def settled() -> bool:
            data = (await api.get(f"/api/v1/keys/{key_hash}")).json()["data"]
            return bool(data["usage"] == pytest.approx(spent / 1e9, abs=1e-12))

        await eventually(settled)
        data = (await api.get(f"/api/v1/keys/{key_hash}")).json()["data"]
        assert data["limit_remaining"] == pytest.approx((LIMIT_NANOS - spent) / 1e9, abs=1e-12)
