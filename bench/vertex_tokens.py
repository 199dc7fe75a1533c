"""What Vertex AI's auth and translation cost per request: a cached access token, a token refresh
(google-auth signs the RS256 assertion in a worker thread; the grant goes to the loopback fake of
tests/fakes/vertex.py, which verifies it), and the Gemini request/answer translation.

Run: PYTHONPATH=src:. python bench/vertex_tokens.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from types import MappingProxyType

from tests.fakes import vertex as fake
from tests.fakes.upstream import RunningUpstream

from keyplane.gateway.access_tokens import AccessTokens
from keyplane.gateway.adapters.chat_on_anthropic import messages_request
from keyplane.gateway.adapters.gemini import generate_request, message_answer
from keyplane.gateway.upstream import UpstreamClient
from keyplane.providers.eligibility import RoutableCredential

CHAT = {
    "model": "gemini-2.0-flash-001",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello " * 200}],
    "temperature": 0.3,
}
ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello."}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 210, "candidatesTokenCount": 3},
}


def _credential(port: int) -> RoutableCredential:
    account = json.dumps(fake.service_account(f"http://127.0.0.1:{port}/token"))
    return RoutableCredential(
        id="bench",
        provider="vertex",
        api_style="vertex",
        base_url=f"http://127.0.0.1:{port}",
        api_key=None,
        models=(),
        blacklisted_models=(),
        aliases=MappingProxyType({}),
        weight=1.0,
        is_byok=False,
        org_id=None,
        eu_native=False,
        zero_data_retention=False,
        quantization=False,
        azure_api_version=None,
        uid="bench",
        egress_guarded=False,
        extra=MappingProxyType(
            {"auth_credentials": account, "project_id": fake.PROJECT, "region": fake.REGION}
        ),
    )


async def _tokens(port: int, rounds: int) -> tuple[float, float]:
    """(ms per refresh, us per cached lookup)."""
    client = UpstreamClient(timeout_seconds=30)
    tokens = AccessTokens(client.send)
    credential = _credential(port)
    await tokens.bearer(credential)  # parse the key once
    refreshes = max(rounds // 100, 5)
    started = time.perf_counter()
    for _ in range(refreshes):
        tokens.forget(credential)
        await tokens.bearer(credential)
    refresh_ms = (time.perf_counter() - started) / refreshes * 1e3
    started = time.perf_counter()
    for _ in range(rounds):
        await tokens.bearer(credential)
    cached_us = (time.perf_counter() - started) / rounds * 1e6
    await client.close()
    return refresh_ms, cached_us


def _translation_us(rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        generate_request(messages_request(CHAT, model=CHAT["model"], max_tokens=1024, stream=False))
        message_answer(ANSWER, model=CHAT["model"])
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5000)
    rounds = parser.parse_args().rounds
    running = RunningUpstream(fake.FakeVertex()).start()  # type: ignore[arg-type]
    try:
        refresh_ms, cached_us = asyncio.run(_tokens(running.port, rounds))
    finally:
        running.stop()
    print(f"vertex token refresh: {refresh_ms:.2f} ms (RS256 assertion + loopback grant)")
    print(f"vertex cached token: {cached_us:.2f} us per request ({rounds} rounds)")
    print(f"vertex gemini translation: {_translation_us(rounds):.1f} us per request and answer")


if __name__ == "__main__":
    main()
