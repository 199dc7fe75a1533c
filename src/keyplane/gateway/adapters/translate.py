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
        return adapter.stream_relay(strip_usage=not wants_usage)
    if target == OPENAI:
        return chat_on_anthropic.ChatFromAnthropic(model=model, wants_usage=wants_usage)
    return messages_on_openai.MessagesFromChat(model=model)
