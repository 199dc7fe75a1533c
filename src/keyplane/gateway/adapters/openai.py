"""OpenAI's wire format (and Azure's and Ollama's variants of it): forwarded unchanged.

The request body is sent as the caller sent it (re-encoded only when the gateway changed it), the
answer is relayed as the provider sent it; only the usage is read on the way.
"""

from __future__ import annotations

from typing import Any

import orjson

from keyplane.gateway.adapters.base import CHAT, EMBEDDINGS, OPENAI, Dialect, UpstreamCall, UpstreamRequest
from keyplane.gateway.settlement import Usage, usage_from
from keyplane.gateway.upstream import upstream_headers, upstream_url

# The OpenAI path for each operation a caller may name (an Anthropic caller's "messages" is a chat).
PATHS = {"chat/completions": "chat/completions", "messages": "chat/completions", "embeddings": "embeddings"}


class OpenAIAdapter:
    dialect: Dialect = OPENAI
    passthrough = True
    kinds = frozenset({CHAT, EMBEDDINGS})

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        credential = call.credential
        url = upstream_url(credential, PATHS[call.operation], call.upstream_model)
        return UpstreamRequest(url, upstream_headers(credential), call.body)

    def answer(self, payload: Any, *, model: str) -> Any:
        return payload

    def usage(self, payload: Any) -> Usage | None:
        return usage_from(payload)

    def stream_relay(self, *, strip_usage: bool, model: str) -> SseRelay:
        return SseRelay(strip_usage=strip_usage)


class SseRelay:
    """Split the upstream's server-sent events; keep its usage; drop the usage chunk we asked for."""

    def __init__(self, *, strip_usage: bool) -> None:
        self.strip_usage = strip_usage
        self.buffer = b""
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0

    def feed(self, chunk: bytes) -> bytes:
        self.buffer += chunk
        if b"\r" in self.buffer:
            self.buffer = self.buffer.replace(b"\r\n", b"\n")
        end = self.buffer.rfind(b"\n\n")
        if end < 0:
            return b""
        complete, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
        if b'"usage"' not in complete and b"[DONE]" not in complete:
            self.content_events += complete.count(b'"content"')
            return complete
        kept: list[bytes] = []
        for event in complete.split(b"\n\n"):
            if not event:
                continue
            if self._keep(event):
                kept.append(event + b"\n\n")
        return b"".join(kept)

    def _keep(self, event: bytes) -> bool:
        data = b"".join(line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:"))
        if data == b"[DONE]":
            self.done = True
            return True
        if b'"content"' in data:
            self.content_events += 1
        if b'"usage"' not in data:
            return True
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        usage = usage_from(payload)
        if usage is not None:
            self.usage = usage
            if self.strip_usage and isinstance(payload, dict) and not payload.get("choices"):
                return False
        return True

    def flush(self) -> bytes:
        rest, self.buffer = self.buffer, b""
        return rest

    def error_event(self, message: str) -> bytes:
        return openai_error_event(message)


def openai_error_event(message: str, error_type: str = "api_error", code: str = "upstream_error") -> bytes:
    """The error chunk an OpenAI-dialect stream ends with when it cannot finish."""
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return b"data: " + orjson.dumps(payload) + b"\n\n"
