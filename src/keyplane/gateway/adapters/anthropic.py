"""Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.

Fed the Anthropic dialect, which is its wire format: a `/v1/messages` caller's request goes out as
sent (its `anthropic-*` headers too) and its answer and stream events come back untouched; only the
usage is read on the way. OpenAI callers reach it through gateway/adapters/translate.py. Claude on
other clouds (Vertex's rawPredict) reuses the usage and stream reading here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from keyplane.gateway.adapters.base import (
    ANTHROPIC,
    CHAT,
    COUNT_TOKENS,
    Dialect,
    UpstreamCall,
    UpstreamRequest,
    count,
)
from keyplane.gateway.settlement import Usage, bounded_tokens

ANTHROPIC_VERSION = "2023-06-01"
PATHS = {
    "messages": "/v1/messages",
    "chat/completions": "/v1/messages",
    "messages/count_tokens": "/v1/messages/count_tokens",
}


def anthropic_headers(api_key: str | None, client_headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's `anthropic-*` headers (version, beta flags) and the credential's key."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "User-Agent": "keyplane",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    headers.update(client_headers)
    if api_key:
        headers["x-api-key"] = api_key
    return headers


def usage_of(usage: Any) -> Usage | None:
    """An Anthropic `usage` object as the gateway counts it: prompt tokens include cache reads and
    writes (as OpenAI's do), which are also kept apart for pricing."""
    if not isinstance(usage, dict):
        return None
    raw = (
        count(usage.get("input_tokens")),
        count(usage.get("output_tokens")),
        count(usage.get("cache_read_input_tokens")),
        count(usage.get("cache_creation_input_tokens")),
    )
    (fresh, output, read, write), clamped = bounded_tokens(*raw)
    return Usage(fresh + read + write, output, read, None, write, clamped=clamped)


class AnthropicAdapter:
    dialect: Dialect = ANTHROPIC
    passthrough = True
    kinds = frozenset({CHAT, COUNT_TOKENS})

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        url = call.credential.base_url.rstrip("/") + PATHS[call.operation]
        return UpstreamRequest(
            url, anthropic_headers(call.credential.api_key, call.client_headers), call.body
        )

    def answer(self, payload: Any, *, model: str) -> Any:
        return payload

    def usage(self, payload: Any) -> Usage | None:
        return usage_of(payload.get("usage")) if isinstance(payload, dict) else None

    def stream_relay(self, *, strip_usage: bool, model: str) -> AnthropicEvents:
        return AnthropicEvents()


def anthropic_error_event(message: str, error_type: str = "api_error") -> bytes:
    """The `error` event an Anthropic-dialect stream ends with when it cannot finish."""
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"


class AnthropicEvents:
    """Relay an Anthropic event stream as it is, reading its usage: `message_start` carries the input
    and cache counts, each `message_delta` the cumulative totals (a missing field keeps its value)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0
        self._counts: dict[str, int] = {}

    def feed(self, chunk: bytes) -> bytes:
        self.buffer += chunk
        if b"\r" in self.buffer:
            self.buffer = self.buffer.replace(b"\r\n", b"\n")
        end = self.buffer.rfind(b"\n\n")
        if end < 0:
            return b""
        complete, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
        out: list[bytes] = []
        for event in complete.split(b"\n\n"):
            if event:
                out.append(self.on_event(event))
        return b"".join(out)

    def on_event(self, event: bytes) -> bytes:
        """One complete event; returns what the caller gets for it (here: the event as it came)."""
        if b"content_block_delta" in event[:40]:
            self.content_events += 1
            return event + b"\n\n"
        self.read(event)
        return event + b"\n\n"

    def read(self, event: bytes) -> dict[str, Any] | None:
        """Parse an event's data and take what metering needs from it; None when it is no JSON object."""
        data = b"".join(line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:"))
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict):
            return None
        kind = payload.get("type")
        if kind == "message_start":
            message = payload.get("message")
            self._take(message.get("usage") if isinstance(message, dict) else None)
        elif kind == "message_delta":
            self._take(payload.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error = payload.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.failed = f"The provider's stream failed: {message if isinstance(message, str) else 'error'}"
        elif kind == "content_block_delta":
            self.content_events += 1
        return payload

    def _take(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ):
            value = usage.get(name)
            if value is not None:
                self._counts[name] = count(value)
        self.usage = usage_of(self._counts)

    def flush(self) -> bytes:
        rest, self.buffer = self.buffer, b""
        return rest

    def error_event(self, message: str) -> bytes:
        return anthropic_error_event(message)
