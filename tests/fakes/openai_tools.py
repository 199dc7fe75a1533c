"""The fake OpenAI-compatible upstream with tool calls and cached prompt tokens, for translation tests.

Every chat body is validated against the `openai` package's request types (400 otherwise), so a
translated request must be one the OpenAI API accepts. On top of tests/fakes/upstream.py:
- `gpt-tools`: calls the first tool (`tool_calls`, streamed in argument fragments) unless a tool
  result follows the last assistant turn, then answers `AFTER_TOOL`
- `gpt-cached`: the usage reports `CACHED_TOKENS` of the prompt tokens as cached
"""

from __future__ import annotations

from typing import Any

import orjson
from openai.types.chat import completion_create_params
from pydantic import TypeAdapter, ValidationError

from tests.fakes.upstream import PROMPT_TOKENS, FakeUpstream, Send, _event, _json

CACHED_TOKENS = 4
TOOL_ARGUMENTS = '{"city": "Paris"}'
AFTER_TOOL = "It is sunny."
CHAT_REQUEST: TypeAdapter[Any] = TypeAdapter(
    completion_create_params.CompletionCreateParamsStreaming
    | completion_create_params.CompletionCreateParamsNonStreaming
)


class ToolsUpstream(FakeUpstream):
    async def _chat(self, payload: dict[str, Any], send: Send) -> None:
        try:
            CHAT_REQUEST.validate_python(payload, strict=False)
        except ValidationError as exc:
            await _json(send, 400, {"error": {"message": str(exc)[:2000], "type": "invalid_request_error"}})
            return
        model = payload.get("model")
        roles = [m.get("role") for m in payload["messages"]]
        answered = "tool" in roles[max((i for i, r in enumerate(roles) if r == "assistant"), default=0) :]
        if model == "gpt-tools" and payload.get("tools") and not answered:
            await self._tool_call(payload, send)
            return
        if model == "gpt-tools":
            await self._text(payload, AFTER_TOOL, send)
            return
        await super()._chat(payload, send)

    async def _tool_call(self, payload: dict[str, Any], send: Send) -> None:
        name = payload["tools"][0]["function"]["name"]
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 5, "total_tokens": PROMPT_TOKENS + 5}
        call = {
            "id": "call_fake1",
            "type": "function",
            "function": {"name": name, "arguments": TOOL_ARGUMENTS},
        }
        if not payload.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            await _json(send, 200, _completion(payload, message, "tool_calls", usage))
            return
        await _start(send)
        base = _chunk_base(payload)
        first = {
            "index": 0,
            "id": "call_fake1",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        await _event(send, {**base, "choices": [_choice({"role": "assistant", "tool_calls": [first]})]})
        half = len(TOOL_ARGUMENTS) // 2
        for part in (TOOL_ARGUMENTS[:half], TOOL_ARGUMENTS[half:]):
            await _event(
                send,
                {
                    **base,
                    "choices": [_choice({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})],
                },
            )
        await _event(send, {**base, "choices": [_choice({}, "tool_calls")]})
        await _event(send, {**base, "choices": [], "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _text(self, payload: dict[str, Any], text: str, send: Send) -> None:
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": 3, "total_tokens": PROMPT_TOKENS + 3}
        if not payload.get("stream"):
            await _json(
                send, 200, _completion(payload, {"role": "assistant", "content": text}, "stop", usage)
            )
            return
        await _start(send)
        base = _chunk_base(payload)
        await _event(send, {**base, "choices": [_choice({"role": "assistant", "content": text})]})
        await _event(send, {**base, "choices": [_choice({}, "stop")]})
        await _event(send, {**base, "choices": [], "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def cached_usage(usage: dict[str, Any]) -> dict[str, Any]:
    return {**usage, "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS}}


def _completion(
    payload: dict[str, Any], message: dict[str, Any], finish: str, usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-tools",
        "object": "chat.completion",
        "created": 0,
        "model": payload["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def _chunk_base(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-tools",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": payload["model"],
    }


def _choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish}


async def _start(send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )


__all__ = ["AFTER_TOOL", "CACHED_TOKENS", "TOOL_ARGUMENTS", "ToolsUpstream", "cached_usage", "orjson"]
