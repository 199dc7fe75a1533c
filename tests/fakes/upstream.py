"""A real OpenAI-compatible upstream on loopback, for gateway tests and the benchmark.

The model name picks a behaviour, so one server plays every role a test needs:

- any other name: a normal answer (chat, stream, embeddings) with deterministic usage
- `fail-500`: HTTP 500 with an OpenAI error body
- `garbage`: HTTP 200 whose body is not JSON
- `slow`: waits `SLOW_SECONDS` before answering (upstream timeouts)
- `cut-stream`: a stream that closes the connection after two content chunks, without [DONE]
- `with-cost`: the usage carries a `cost` in USD, as OpenRouter-style upstreams report it

Usage is fixed per request: `PROMPT_TOKENS` prompt tokens and `COMPLETION_TOKENS` completion
tokens, unless the request's `max_tokens` is smaller. Every request is recorded (path, headers,
JSON body) in `FakeUpstream.requests`, and also served at `GET /_requests` for other processes.

Run standalone (the benchmark does): `python -m tests.fakes.upstream --port 9100`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

PROMPT_TOKENS = 10
COMPLETION_TOKENS = 20
SLOW_SECONDS = 3.0
DEFAULT_MODELS = ("fake-model",)
STREAM_WORDS = ("Hello", " from", " the", " fake", " upstream", ".")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeUpstream:
    """The ASGI app; `requests` lists what it received, newest last."""

    requests: list[RecordedRequest] = field(default_factory=list)
    record: bool = True
    # What `GET .../models` lists; a test may change it (model discovery) and must restore it.
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/_requests":
            if method == "DELETE":
                self.requests.clear()
                await _json(send, 200, {"cleared": True})
            else:
                await _json(send, 200, [r.__dict__ for r in self.requests])
            return
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            await _json(send, 400, _error("invalid json"))
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.record:
            self.requests.append(
                RecordedRequest(method, path, scope.get("query_string", b"").decode(), headers, payload)
            )
        if path.endswith("/models") and method == "GET":
            await _json(send, 200, {"object": "list", "data": [_model(name) for name in self.models]})
        elif path.endswith("/chat/completions") and method == "POST" and isinstance(payload, dict):
            await self._chat(payload, send)
        elif path.endswith("/embeddings") and method == "POST" and isinstance(payload, dict):
            await self._embeddings(payload, send)
        else:
            await _json(send, 404, _error(f"no route {method} {path}"))

    async def _chat(self, payload: dict[str, Any], send: Send) -> None:
        model = str(payload.get("model", ""))
        if not await _misbehave(model, send):
            return
        completion = COMPLETION_TOKENS
        if isinstance(payload.get("max_tokens"), int):
            completion = min(completion, payload["max_tokens"])
        usage: dict[str, Any] = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": completion,
            "total_tokens": PROMPT_TOKENS + completion,
        }
        if model == "with-cost":
            usage["cost"] = 0.0125
        if payload.get("stream"):
            await self._stream(payload, model, usage, send)
            return
        await _json(
            send,
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(STREAM_WORDS)},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            },
        )

    async def _stream(self, payload: dict[str, Any], model: str, usage: dict[str, Any], send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
        for index, word in enumerate(STREAM_WORDS):
            if model == "cut-stream" and index == 2:
                # Abort: the server closes the connection without finishing the chunked body.
                raise ConnectionAbortedError("fake upstream cuts the stream")
            delta = {"content": word} if index else {"role": "assistant", "content": word}
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await _event(send, chunk)
        await _event(send, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        options = payload.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await _event(send, {**base, "choices": [], "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _embeddings(self, payload: dict[str, Any], send: Send) -> None:
        model = str(payload.get("model", ""))
        if not await _misbehave(model, send):
            return
        inputs = payload.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        await _json(
            send,
            200,
            {
                "object": "list",
                "model": model,
                "data": [
                    {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                    for i in range(len(items))
                ],
                "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
            },
        )


async def _misbehave(model: str, send: Send) -> bool:
    """Play the failure the model name asks for; False when the response has been sent."""
    if model == "fail-500":
        await _json(send, 500, _error("the fake upstream failed"))
        return False
    if model == "garbage":
        await _raw(send, 200, b"this is <not> json", b"application/json")
        return False
    if model == "slow":
        await asyncio.sleep(SLOW_SECONDS)
    return True


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "fake"}


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "code": None}}


async def _event(send: Send, chunk: dict[str, Any]) -> None:
    await send(
        {"type": "http.response.body", "body": b"data: " + orjson.dumps(chunk) + b"\n\n", "more_body": True}
    )


async def _json(send: Send, status: int, body: Any) -> None:
    await _raw(send, status, orjson.dumps(body), b"application/json")


async def _raw(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningUpstream:
    """A FakeUpstream served by uvicorn in a background thread (its own event loop)."""

    def __init__(self, app: FakeUpstream | None = None, port: int | None = None) -> None:
        import uvicorn

        self.app = app or FakeUpstream()
        self.port = port or free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base (with /v1), as a credential's base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    def start(self) -> RunningUpstream:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="fake OpenAI-compatible upstream")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--no-record", action="store_true", help="do not keep requests (benchmarks)")
    args = parser.parse_args()
    uvicorn.run(
        FakeUpstream(record=not args.no_record),
        host="127.0.0.1",
        port=args.port,
        log_level="error",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    main()
