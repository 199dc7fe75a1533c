"""The gateway's own HTTP/1.1 client against the real fake upstream: reuse, streams, failures."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from keyplane.gateway.http import HTTPClient
from tests.fakes.upstream import RunningUpstream

HEADERS = {"Content-Type": "application/json"}


def chat(model: str = "m", **extra: object) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": "x"}], **extra})


async def test_sequential_requests_reuse_one_connection(upstream: RunningUpstream) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        for _ in range(20):
            response = await client.send("POST", upstream.base_url + "/chat/completions", HEADERS, chat())
            assert response.status == 200
            assert orjson.loads(await response.read())["object"] == "chat.completion"
        assert [len(idle) for idle in client._idle.values()] == [1]
    finally:
        await client.close()


async def test_a_stream_arrives_in_chunks_until_done(upstream: RunningUpstream) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        response = await client.send(
            "POST", upstream.base_url + "/chat/completions", HEADERS, chat(stream=True)
        )
        assert response.headers["content-type"] == "text/event-stream"
        body = b"".join([chunk async for chunk in response.iter_chunks()])
        assert body.endswith(b"data: [DONE]\n\n") and body.count(b"data: ") == 8
        assert [len(idle) for idle in client._idle.values()] == [1]
    finally:
        await client.close()


async def test_a_restarted_upstream_is_reached_on_a_fresh_connection() -> None:
    first = RunningUpstream().start()
    client = HTTPClient(timeout_seconds=10)
    try:
        url = first.base_url + "/chat/completions"
        await (await client.send("POST", url, HEADERS, chat())).read()
        first.stop()
        second = RunningUpstream(port=first.port).start()
        try:
            response = await client.send("POST", url, HEADERS, chat())
            assert response.status == 200 and await response.read()
        finally:
            second.stop()
    finally:
        await client.close()


async def test_a_silent_upstream_times_out(upstream: RunningUpstream) -> None:
    client = HTTPClient(timeout_seconds=0.2)
    try:
        with pytest.raises(TimeoutError):
            await client.send("POST", upstream.base_url + "/chat/completions", HEADERS, chat("slow"))
    finally:
        await client.close()


async def test_a_cut_stream_raises_after_the_chunks_that_arrived(upstream: RunningUpstream) -> None:
    client = HTTPClient(timeout_seconds=10)
    try:
        response = await client.send(
            "POST", upstream.base_url + "/chat/completions", HEADERS, chat("cut-stream", stream=True)
        )
        received = []
        with pytest.raises(ConnectionError):
            async for chunk in response.iter_chunks():
                received.append(chunk)
        assert b"Hello" in b"".join(received)
        assert client._idle.get(("http", "127.0.0.1", upstream.port), []) == []
    finally:
        await client.close()


async def test_a_closed_port_is_a_connection_error() -> None:
    from tests.fakes.upstream import free_port

    client = HTTPClient(timeout_seconds=1)
    with pytest.raises(OSError):
        await client.send("POST", f"http://127.0.0.1:{free_port()}/v1/chat/completions", HEADERS, chat())
    await asyncio.sleep(0)
    await client.close()
