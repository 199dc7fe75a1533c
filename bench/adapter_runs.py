"""The per-adapter part of bench/gateway.py: each translating adapter's overhead beside OpenAI's.

Each provider fake (tests/fakes/serve.py) runs in its own process. keyplane gets a platform
credential per provider (the provider setting's base URL points at the fake) and is called with
the same OpenAI chat body; the bare run calls the fake directly in its own wire shape with its own
auth (Bedrock: a bearer API key, so no signing in the load generator; keyplane signs SigV4).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from loadgen import cpu_seconds, free_port, latencies, ms, process, wait_http

PROMPT = [{"role": "user", "content": "Say hello."}]


@dataclass(frozen=True)
class Adapter:
    """One provider: its model, how keyplane is configured for it, and a bare request to its fake."""

    name: str
    model: str
    credential: dict[str, Any]
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def adapters() -> list[Adapter]:
    from tests.fakes import anthropic, bedrock, cohere

    bedrock_model = bedrock.MODELS[0]
    return [
        Adapter(
            "anthropic",
            anthropic.MODELS[0],
            {"value": anthropic.API_KEY},
            "/v1/messages",
            {"x-api-key": anthropic.API_KEY, "anthropic-version": "2023-06-01"},
            {"model": anthropic.MODELS[0], "max_tokens": 20, "messages": PROMPT},
        ),
        Adapter(
            "bedrock",
            bedrock_model,
            {
                "bedrock_key_config": {
                    "access_key": bedrock.ACCESS_KEY,
                    "secret_key": bedrock.SECRET_KEY,
                    "region": bedrock.REGION,
                }
            },
            f"/model/{quote(bedrock_model, safe='')}/converse",
            {"Authorization": f"Bearer {bedrock.API_KEY}"},
            {
                "messages": [{"role": "user", "content": [{"text": "Say hello."}]}],
                "inferenceConfig": {"maxTokens": 20},
            },
        ),
        Adapter(
            "cohere",
            "command-a-03-2025",
            {"value": cohere.API_KEY},
            "/v2/chat",
            {"Authorization": f"Bearer {cohere.API_KEY}"},
            {"model": "command-a-03-2025", "max_tokens": 20, "messages": PROMPT},
        ),
    ]


@contextmanager
def running_fakes(work: Path, root: Path, *, enabled: bool = True) -> Iterator[dict[str, int]]:
    """Start every provider fake; yields its port by name (nothing when not enabled)."""
    ports: dict[str, int] = {}
    if not enabled:
        yield ports
        return
    env = {**os.environ, "PYTHONPATH": str(root)}
    with ExitStack() as stack:
        for adapter in adapters():
            port = free_port()
            command = [sys.executable, "-m", "tests.fakes.serve", adapter.name, "--port", str(port)]
            stack.enter_context(process(command, env, work / f"fake-{adapter.name}.log"))
            ports[adapter.name] = port
        for port in ports.values():
            wait_http(f"http://127.0.0.1:{port}/")
        yield ports


def configure(base_url: str, management_key: str, ports: dict[str, int]) -> None:
    """A platform credential and a price per provider, pointed at its fake."""
    admin = {"Authorization": f"Bearer {management_key}"}
    with httpx.Client(base_url=base_url, headers=admin, timeout=30) as http:
        for adapter in adapters():
            http.put(
                f"/api/v1/providers/{adapter.name}/settings",
                json={"base_url": f"http://127.0.0.1:{ports[adapter.name]}"},
            ).raise_for_status()
            body = {"name": f"bench {adapter.name}", "models": [adapter.model], "platform": True}
            http.post(
                f"/api/providers/{adapter.name}/keys", json={**body, **adapter.credential}
            ).raise_for_status()
            price = {"input": 0.15, "output": 0.6}
            http.put(f"/api/v1/model-prices/{quote(adapter.model, safe='')}", json=price).raise_for_status()


def raw_request(port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


OPENAI = Adapter(
    "openai-style",
    "bench-model",
    {},
    "/v1/chat/completions",
    {},
    {"model": "bench-model", "max_tokens": 20, "messages": PROMPT},
)


def measure(args: Any, pid: int, port: int, key: str, ports: dict[str, int]) -> list[dict[str, Any]]:
    """Per adapter, and the OpenAI-style path run right before them: direct and keyplane p50 at
    concurrency 1, the overhead, keyplane CPU per request."""
    found: list[dict[str, Any]] = []
    for adapter in [OPENAI, *adapters()]:
        direct = raw_request(
            ports[adapter.name], adapter.path, adapter.headers, json.dumps(adapter.body).encode()
        )
        chat = json.dumps({"model": adapter.model, "messages": PROMPT, "max_tokens": 20}).encode()
        through = raw_request(port, "/v1/chat/completions", {"Authorization": f"Bearer {key}"}, chat)
        direct_lat = asyncio.run(latencies(ports[adapter.name], direct, args.requests, args.warmup))
        cpu_before = cpu_seconds(pid)
        gateway_lat = asyncio.run(latencies(port, through, args.requests, args.warmup))
        cpu = (cpu_seconds(pid) - cpu_before) / (args.requests + args.warmup)
        overhead = ms(gateway_lat, 0.5) - ms(direct_lat, 0.5)
        found.append(
            {
                "adapter": adapter.name,
                "direct_p50_ms": ms(direct_lat, 0.5),
                "gateway_p50_ms": ms(gateway_lat, 0.5),
                "overhead_p50_ms": overhead,
                "minus_openai_ms": overhead - (found[0]["overhead_p50_ms"] if found else overhead),
                "cpu_ms_per_request": cpu * 1000,
            }
        )
    return found
