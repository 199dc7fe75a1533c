"""A loopback fake of Anthropic's Messages API that checks what the real one checks.

Every request must carry the credential's `x-api-key` and an `anthropic-version`; every body is
validated against tests/fakes/anthropic_schema.py (400 `invalid_request_error` otherwise). Answers
and streams have the real API's shape: `message_start` (input and cache usage), `ping`,
`content_block_start/delta/stop` for text, tool use (`input_json_delta`) and thinking
(`thinking_delta`, `signature_delta`), `message_delta` (cumulative usage), `message_stop`.

The model name picks a behaviour:
- `claude-tools`: asks for the first tool (`tool_use`) unless the last turn holds a tool result
- `claude-thinking`: a thinking block before the text
- `claude-cache`: cache writes and reads in the usage (repeated in `message_delta`, as newer
  API versions do)
- `claude-overloaded`: HTTP 529 `overloaded_error`; `claude-refuse`: HTTP 400 `invalid_request_error`
- `claude-stream-error`: a stream that sends an `error` event after the first text delta
- anything else: a text answer
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from tests.fakes.anthropic_schema import CountTokensRequest, MessagesRequest, ToolResultBlock
from tests.fakes.upstream import Receive, RecordedRequest, Scope, Send

API_KEY = "sk-ant-upstream-secret"
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # every API version is a date (2023-06-01, ...)
INPUT_TOKENS = 12
OUTPUT_TOKENS = 7
CACHE_WRITE_TOKENS = 300
CACHE_READ_TOKENS = 2000
COUNTED_TOKENS = 42
TEXT = ("Hello", " from", " the", " fake", " Claude.")
THINKING = "Let me think about this."
SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1mYWtl"
TOOL_INPUT = {"city": "Paris", "unit": "celsius"}
AFTER_TOOL = "It is sunny in Paris."
MODELS = ("claude-fake-1", "claude-fake-2")


@dataclass
class FakeAnthropic:
    """The ASGI app; `requests` lists what it received (path, query, headers, JSON body)."""

    api_key: str = API_KEY
    requests: list[RecordedRequest] = field(default_factory=list)

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
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None
        self.requests.append(
            RecordedRequest(method, path, scope.get("query_string", b"").decode(), headers, payload)
        )
        if headers.get("x-api-key") != self.api_key:
            await _error(send, 401, "authentication_error", "invalid x-api-key")
        elif not VERSION.match(headers.get("anthropic-version", "")):
            await _error(send, 400, "invalid_request_error", "anthropic-version: header is required")
        elif method == "GET" and path == "/v1/models":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in MODELS
            ]
            await _json(
                send, 200, {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
            )
        elif method == "POST" and path == "/v1/messages/count_tokens":
            if await _valid(send, CountTokensRequest, payload):
                await _json(send, 200, {"input_tokens": COUNTED_TOKENS})
        elif method == "POST" and path == "/v1/messages":
            request = await _valid(send, MessagesRequest, payload)
            if isinstance(request, MessagesRequest):
                await self._messages(request, send)
        else:
            await _error(send, 404, "not_found_error", f"no route {method} {path}")

    async def _messages(self, request: MessagesRequest, send: Send) -> None:
        model = request.model
        if model == "claude-overloaded":
            await _error(send, 529, "overloaded_error", "Overloaded")
            return
        if model == "claude-refuse":
            await _error(
                send, 400, "invalid_request_error", "prompt is too long: 300000 tokens > 200000 maximum"
            )
            return
        blocks, stop_reason = _content(request)
        usage: dict[str, Any] = {
            "input_tokens": INPUT_TOKENS,
            "output_tokens": min(OUTPUT_TOKENS, request.max_tokens),
        }
        if model == "claude-cache":
            usage["cache_creation_input_tokens"] = CACHE_WRITE_TOKENS
            usage["cache_read_input_tokens"] = CACHE_READ_TOKENS
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": CACHE_WRITE_TOKENS,
                "ephemeral_1h_input_tokens": 0,
            }
        else:
            usage["cache_creation_input_tokens"] = 0
            usage["cache_read_input_tokens"] = 0
        message = {
            "id": "msg_fake0123456789",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "service_tier": "standard"},
        }
        if request.stream:
            await self._stream(message, send)
        else:
            await _json(send, 200, message)

    async def _stream(self, message: dict[str, Any], send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        usage = message["usage"]
        start_usage = {**usage, "output_tokens": 1}
        start = {**message, "content": [], "stop_reason": None, "usage": start_usage}
        await _event(send, "message_start", {"type": "message_start", "message": start})
        await _event(send, "ping", {"type": "ping"})
        for index, block in enumerate(message["content"]):
            for event in _block_events(index, block):
                await _event(send, str(event["type"]), event)
                if message["model"] == "claude-stream-error" and event["type"] == "content_block_delta":
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    await _event(send, "error", error)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
        final: dict[str, Any] = {"output_tokens": usage["output_tokens"]}
        if message["model"] == "claude-cache":
            final.update(
                {
                    k: usage[k]
                    for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
                }
            )
        delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        await _event(send, "message_delta", {"type": "message_delta", "delta": delta, "usage": final})
        await _event(send, "message_stop", {"type": "message_stop"}, more=False)


def _content(request: MessagesRequest) -> tuple[list[dict[str, Any]], str]:
    last = request.messages[-1].blocks()
    answered = any(isinstance(b, ToolResultBlock) for b in last)
    if request.model == "claude-tools" and request.tools and not answered:
        tool = request.tools[0]
        use = {"type": "tool_use", "id": "toolu_01FakeToolCall", "name": tool.name, "input": TOOL_INPUT}
        return [{"type": "text", "text": "Let me check."}, use], "tool_use"
    if answered:
        return [{"type": "text", "text": AFTER_TOOL}], "end_turn"
    blocks: list[dict[str, Any]] = []
    if request.model == "claude-thinking":
        blocks.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
    blocks.append({"type": "text", "text": "".join(TEXT)})
    return blocks, "end_turn"


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": w}
            for w in (TEXT if block["text"] == "".join(TEXT) else [block["text"]])
        ]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    else:
        start = {**block, "input": {}}
        encoded = orjson.dumps(block["input"]).decode()
        half = len(encoded) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in ("", encoded[:half], encoded[half:])
        ]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


async def _valid(send: Send, model: type[CountTokensRequest], payload: Any) -> CountTokensRequest | None:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        await _error(send, 400, "invalid_request_error", str(exc))
        return None


async def _event(send: Send, name: str, payload: dict[str, Any], *, more: bool = True) -> None:
    body = b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _error(send: Send, status: int, kind: str, message: str) -> None:
    await _json(
        send, status, {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    )


async def _json(send: Send, status: int, body: Any) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
