"""A misbehaving OpenAI-compatible upstream on a real loopback TCP socket (fixture `fault_upstream`).

Raw asyncio streams rather than an HTTP server, so it can break HTTP on purpose. It serves any
POST; the request body's `model` picks the fault, so one server plays every role and a credential
lists the fault names as its models (or aliases a model to one):

- `ok`: a correct answer that echoes the last message's content (SSE, chunked, when `stream`)
- `unsolicited`: the answer and, in the same write, a second response nobody asked for
- `continue`: a stray `100 Continue`, then the answer a moment (`continue_gap`) later
- `idle-stray`: the answer; a stray response follows on that idle connection when the test calls
  `send_strays()`
- `truncated-200` / `truncated-500`: headers promising twice the body that is sent, then close
- `stalled-200` / `stalled-500`: headers and half the body, then silence until the client leaves
- `drip`: the answer one byte every `drip_interval` seconds, from the status line on, and a body
  too long to ever finish within a test
- `redirect-3xx` (`redirect-302`, `redirect-307`, ...): that status with a Location header
- `usage`: the answer's `usage` is the request's `fault_usage` object, verbatim

The answer's content (and every SSE content delta) is the request's last message content, so a
test can tell whose answer it got. `requests` lists (model, content) as received; `connections`
counts accepted connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import orjson
import pytest

from tests.fakes.upstream import free_port

REASONS = {200: b"OK", 500: b"Internal Server Error", 100: b"Continue"}
DEFAULT_USAGE = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
DRIP_BODY_BYTES = 1_000_000


def response_bytes(
    status: int, body: bytes, *, content_type: bytes = b"application/json", length: int | None = None
) -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
        status,
        REASONS.get(status, b"Status"),
        content_type,
        len(body) if length is None else length,
    )
    return head + body


def answer_payload(model: str, content: str, usage: Any) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{content}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }


def stream_bytes(model: str, content: str, usage: Any, *, include_usage: bool) -> bytes:
    """A whole SSE answer as one chunked HTTP response."""
    base = {"id": f"chatcmpl-{content}", "object": "chat.completion.chunk", "created": 0, "model": model}
    deltas = [{"role": "assistant", "content": ""}, {"content": content}]
    events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        events.append({**base, "choices": [], "usage": usage})
    datas = [b"data: " + orjson.dumps(event) + b"\n\n" for event in events] + [b"data: [DONE]\n\n"]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data), data) for data in datas)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + chunks + b"0\r\n\r\n"


class FaultUpstream:
    """The server, run on its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()
        self.idle_writers: list[asyncio.StreamWriter] = []
        self.requests: list[tuple[str, str]] = []
        self.connections = 0
        self.drip_interval = 0.005
        self.continue_gap = 0.005
        self.strays = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultUpstream:
        self.thread.start()
        self._call(self._start()).result(timeout=30)
        return self

    def stop(self) -> None:
        self._call(self._stop()).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def reset(self) -> None:
        self.requests.clear()
        self.connections = 0
        self.drip_interval = 0.005
        self.continue_gap = 0.005

    def send_strays(self) -> None:
        """Write a stray response on every connection that answered an `idle-stray` request."""
        self._call(self._send_strays()).result(timeout=30)

    def _call(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def _send_strays(self) -> None:
        writers, self.idle_writers = self.idle_writers, []
        for writer in writers:
            if not writer.is_closing():
                writer.write(response_bytes(200, orjson.dumps(answer_payload("ok", "stray", DEFAULT_USAGE))))
                self.strays += 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.connections += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client left or sent something this server does not parse
        except asyncio.CancelledError:
            pass  # stop(): ends quietly (asyncio logs a cancelled connection task otherwise)
        finally:
            self.handlers.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request and its (mis)behaving answer; False when the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = orjson.loads(await reader.readexactly(length)) if length else {}
        model = str(payload.get("model", ""))
        messages = payload.get("messages") or [{}]
        content = str(messages[-1].get("content", ""))
        self.requests.append((model, content))
        usage = payload.get("fault_usage", DEFAULT_USAGE)
        options = payload.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if payload.get("stream"):
            answer = stream_bytes(model, content, usage, include_usage=include_usage)
        else:
            answer = response_bytes(200, orjson.dumps(answer_payload(model, content, usage)))
        if model.startswith("redirect-"):
            status = int(model.removeprefix("redirect-"))
            writer.write(
                b"HTTP/1.1 %d Moved\r\nlocation: http://127.0.0.1:9/elsewhere\r\n"
                b"content-length: 0\r\n\r\n" % status
            )
            return True
        if model in ("truncated-200", "truncated-500", "stalled-200", "stalled-500"):
            status = int(model[-3:])
            body = orjson.dumps(answer_payload(model, content, usage) if status == 200 else _error())
            writer.write(response_bytes(status, body[: len(body) // 2], length=len(body)))
            if model.startswith("stalled"):
                await reader.read()  # silent until the client hangs up
            return False
        if model == "drip":
            padded = response_bytes(200, b" " * DRIP_BODY_BYTES)
            for index in range(len(padded)):
                writer.write(padded[index : index + 1])
                await writer.drain()
                await asyncio.sleep(self.drip_interval)
                if reader.at_eof():
                    return False
            return False
        if model == "continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(self.continue_gap)
        if model == "unsolicited":
            stray = response_bytes(200, orjson.dumps(answer_payload(model, f"stray-{content}", usage)))
            writer.write(answer + stray)
            return True
        writer.write(answer)
        if model == "idle-stray":
            await writer.drain()
            self.idle_writers.append(writer)
        return True


def _error() -> dict[str, Any]:
    return {"error": {"message": "the fault upstream failed", "type": "server_error", "code": None}}


@pytest.fixture(scope="session")
def fault_upstream_server() -> Iterator[FaultUpstream]:
    server = FaultUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def fault_upstream(fault_upstream_server: FaultUpstream) -> FaultUpstream:
    """The shared fault server with its log and timings reset for this test."""
    fault_upstream_server.reset()
    return fault_upstream_server
