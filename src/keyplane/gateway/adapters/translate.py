"""Between the caller's dialect and the adapter's: request bodies, answers and streams.

Same dialect: nothing to do (the body goes out as it came, the answer comes back as it was sent).
Otherwise the pair picks a translator module: chat_on_anthropic (OpenAI callers, Anthropic
adapters) or messages_on_openai (Anthropic callers, OpenAI-dialect adapters). A future adapter whose
wire is neither dialect decodes its stream into its dialect first and these translators follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyplane.gateway.adapters import chat_on_anthropic, messages_on_openai
from keyplane.gateway.adapters.base import ANTHROPIC, OPENAI, Adapter, Dialect, StreamRelay
from keyplane.gateway.settlement import Usage


def request_body(
    body: Mapping[str, Any],
    source: Dialect,
    target: Dialect,
    *,
    model: str,
    max_tokens: int,
    stream: bool,
) -> dict[str, Any]:
    """The caller's chat request (dialect `source`) for an adapter fed `target`, naming `model`."""
    if source == OPENAI and target == ANTHROPIC:
        return chat_on_anthropic.messages_request(body, model=model, max_tokens=max_tokens, stream=stream)
    if source == ANTHROPIC and target == OPENAI:
        return messages_on_openai.chat_request(body, model=model, stream=stream)
    return {**body, "model": model}


def answer(payload: Any, source: Dialect, target: Dialect, *, model: str) -> Any:
    """An adapter's answer (dialect `source`) for a caller speaking `target`."""
    if source == ANTHROPIC and target == OPENAI:
        return chat_on_anthropic.completion_answer(payload, model=model)
    if source == OPENAI and target == ANTHROPIC:
        return messages_on_openai.message_answer(payload, model=model)
    return payload


def stream_relay(adapter: Adapter, target: Dialect, *, model: str, wants_usage: bool) -> StreamRelay:
    """The relay of an adapter's stream for a caller speaking `target` (metering on the way)."""
    if adapter.dialect == target:
        return adapter.stream_relay(strip_usage=not wants_usage, model=model)
    outer: StreamRelay
    if target == OPENAI:
        outer = chat_on_anthropic.ChatFromAnthropic(model=model, wants_usage=wants_usage)
    else:
        outer = messages_on_openai.MessagesFromChat(model=model)
    if adapter.passthrough:
        return outer
    return Chained(adapter.stream_relay(strip_usage=False, model=model), outer)


class Chained:
    """An adapter's own relay (its wire into its dialect, metered) feeding a dialect translator."""

    def __init__(self, inner: StreamRelay, outer: StreamRelay) -> None:
        self.inner = inner
        self.outer = outer

    @property
    def usage(self) -> Usage | None:
        return self.inner.usage

    @property
    def done(self) -> bool:
        return self.inner.done

    @property
    def failed(self) -> str | None:
        return self.inner.failed or self.outer.failed

    @property
    def content_events(self) -> int:
        return self.inner.content_events

    def feed(self, chunk: bytes) -> bytes:
        return self.outer.feed(self.inner.feed(chunk))

    def flush(self) -> bytes:
        return self.outer.feed(self.inner.flush()) + self.outer.flush()

    def error_event(self, message: str) -> bytes:
        return self.outer.error_event(message)
