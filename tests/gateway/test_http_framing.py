"""The pooled client against a misbehaving upstream: unclean framing never reaches another request,
1xx interim answers are skipped, and the deadline bounds a dripping answer."""

from __future__ import annotations

import asyncio
import random
import time

import orjson
import pytest

from keyplane.gateway.http import DeadlineExceeded, HTTPClient, HTTPResponse
from tests.fault_upstream import FaultUpstream

HEADERS = {"Content-Type": "application/json"}
WAIT_SECONDS = 20.0  # an upper bound for a hang, never a speed expectation


def chat(model: str, content: str, **extra: object) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": content}], **extra})


async def answer_of(response: HTTPResponse, *, stream: bool = False) -> str:
    """The content the upstream answered with (its SSE deltas joined for a stream)."""
    if not stream:
        return str(orjson.loads(await response.read())["choices"][0]["message"]["content"])
    body = b"".join([chunk async for chunk in response.iter_chunks()])
    events = [line[6:] for line in body.split(b"\n") if line.startswith(b"data: {")]
    return "".join(
        choice["delta"].get("content") or ""
        for choice in (c for e in events for c in orjson.loads(e)["choices"])
    )


async def test_an_unsolicited_second_response_is_dropped_with_its_connection(
    fault_upstream: FaultUpstream,
) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        for index in range(5):
            response = await client.send(
                "POST", fault_upstream.url, HEADERS, chat("unsolicited", f"id-{index}")
            )
            assert response.status == 200
            assert await answer_of(response) == f"id-{index}"
        assert fault_upstream.connections == 5  # no connection that carried a stray answer was reused
    finally:
        await client.close()


async def test_a_stray_100_continue_is_skipped_and_the_connection_stays_usable(
    fault_upstream: FaultUpstream,
) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        for index in range(5):
            response = await client.send("POST", fault_upstream.url, HEADERS, chat("continue", f"id-{index}"))
            assert response.status == 200
            assert await answer_of(response) == f"id-{index}"
        assert fault_upstream.connections == 1
    finally:
        await client.close()


async def test_bytes_arriving_on_an_idle_connection_close_it_before_any_reuse(
    fault_upstream: FaultUpstream,
) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        response = await client.send("POST", fault_upstream.url, HEADERS, chat("idle-stray", "first"))
        assert await answer_of(response) == "first"
        (pooled,) = [c for idle in client._idle.values() for c in idle]
        await asyncio.to_thread(fault_upstream.send_strays)
        deadline = time.monotonic() + WAIT_SECONDS
        while not pooled.closed:
            assert time.monotonic() < deadline, "the stray bytes never closed the idle connection"
            await asyncio.sleep(0.01)
        response = await client.send("POST", fault_upstream.url, HEADERS, chat("ok", "second"))
        assert await answer_of(response) == "second"
        assert fault_upstream.connections == 2
    finally:
        await client.close()


async def test_hundreds_of_concurrent_requests_each_get_their_own_answer(
    fault_upstream: FaultUpstream,
) -> None:
    client = HTTPClient(timeout_seconds=10)
    rng = random.Random(11)
    plan = [(rng.choice(["ok", "unsolicited", "continue"]), rng.random() < 0.5) for _ in range(400)]

    async def one(index: int, model: str, stream: bool) -> str:
        body = chat(model, f"id-{index}", stream=stream, stream_options={"include_usage": True})
        response = await client.send("POST", fault_upstream.url, HEADERS, body)
        assert response.status == 200
        return await answer_of(response, stream=stream)

    try:
        for wave in range(4):  # waves, so later requests meet connections earlier ones left pooled
            part = range(wave * 100, (wave + 1) * 100)
            answers = await asyncio.gather(*(one(i, *plan[i]) for i in part))
            assert answers == [f"id-{i}" for i in part]
    finally:
        await client.close()


async def test_a_dripping_answer_ends_at_the_deadline(fault_upstream: FaultUpstream) -> None:
    client = HTTPClient(timeout_seconds=10, deadline_seconds=0.2)
    try:
        with pytest.raises(DeadlineExceeded):
            response = await client.send("POST", fault_upstream.url, HEADERS, chat("drip", "x"))
            await response.read()
    finally:
        await client.close()


async def test_the_deadline_stops_at_a_streams_first_bytes(fault_upstream: FaultUpstream) -> None:
    client = HTTPClient(timeout_seconds=10, deadline_seconds=WAIT_SECONDS)
    try:
        response = await client.send("POST", fault_upstream.url, HEADERS, chat("ok", "s", stream=True))
        assert response.connection.deadline > 0
        await response.first_bytes()
        assert response.connection.deadline == 0.0  # from here on only the between-bytes timeout
        assert await answer_of(response, stream=True) == "s"
    finally:
        await client.close()
