"""Cohere's v2 API: `POST {base}/v2/chat` and `/v2/embed` with a bearer key.

Fed the OpenAI dialect: chat requests are re-shaped to Cohere's (messages keep their roles, tools
their JSON schema; `top_p` is `p`, `stop` is `stop_sequences`), answers and stream events are turned
back into chat completions and chunks. Usage is metered from `billed_units`, the tokens Cohere
charges for (`tokens` also counts its prompt template); `tokens` is read only when billed units are
missing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.base import (
    CHAT,
    EMBEDDINGS,
    OPENAI,
    Dialect,
    UpstreamCall,
    UpstreamRequest,
    count,
)
from keyplane.gateway.adapters.openai import openai_error_event
from keyplane.gateway.settlement import Usage, bounded_tokens
from keyplane.gateway.upstream import upstream_headers

PATHS = {"chat/completions": "/v2/chat", "messages": "/v2/chat", "embeddings": "/v2/embed"}
FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "stop",
    "TIMEOUT": "stop",
}
# OpenAI chat fields and their Cohere names; anything else the caller sends is not forwarded.
RENAMED = {
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "p",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
DEFAULT_INPUT_TYPE = "search_document"


def chat_request(body: Mapping[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """An OpenAI chat completions body as a Cohere v2 chat body."""
    if body.get("n") not in (None, 1):
        raise BadRequest("n > 1 is not supported for Cohere models", code="unsupported_parameter")
    out: dict[str, Any] = {"model": model, "messages": [_message(m) for m in body["messages"]]}
    if stream:
        out["stream"] = True
    for name, target in RENAMED.items():
        if body.get(name) is not None:
            out[target] = body[name]
    stop = body.get("stop")
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        out["tools"] = [_tool(tool) for tool in body["tools"]]
    choice = body.get("tool_choice")
    if choice == "required" or isinstance(choice, dict):
        out["tool_choice"] = "REQUIRED"
    elif choice == "none":
        out["tool_choice"] = "NONE"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        shaped: dict[str, Any] = {"type": "json_object"}
        schema = response_format.get("json_schema")
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            shaped["json_schema"] = schema["schema"]
        out["response_format"] = shaped
    return out


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise BadRequest("Each message must be an object", code="invalid_messages")
    role = message.get("role")
    if role == "developer":
        role = "system"
    if role not in ("system", "user", "assistant", "tool"):
        raise BadRequest(
            f"Cohere cannot take a message with role {str(role)[:40]!r}", code="invalid_messages"
        )
    out: dict[str, Any] = {"role": role}
    content = message.get("content")
    if role == "tool":
        out["tool_call_id"] = str(message.get("tool_call_id") or "")
        out["content"] = _text_only(content)
        return out
    if role == "assistant" and message.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call.get("function", {}).get("name"),
                    "arguments": call.get("function", {}).get("arguments") or "{}",
                },
            }
            for call in message["tool_calls"]
            if isinstance(call, dict)
        ]
        if content:
            out["tool_plan"] = _text_only(content)
        return out
    out["content"] = _content(content, images=role == "user")
    return out


def _text_only(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _content(content: Any, *, images: bool) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise BadRequest("A message's content must be a string or a list of parts", code="invalid_messages")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url" and images:
            url = part.get("image_url", {})
            parts.append(
                {"type": "image_url", "image_url": {"url": url.get("url") if isinstance(url, dict) else url}}
            )
        else:
            raise BadRequest(
                f"Cohere cannot take a content part of type {str(kind)[:40]!r}", code="invalid_messages"
            )
    return parts


def _tool(tool: Any) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not function.get("name"):
        raise BadRequest("Each tool must be a function with a name", code="invalid_tools")
    shaped: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        shaped["description"] = function["description"]
    shaped["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": shaped}


def embed_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI embeddings body as a Cohere v2 embed body (float embeddings)."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BadRequest(
            "Cohere embeds text: `input` must be a string or a list of strings", code="invalid_input"
        )
    out: dict[str, Any] = {
        "model": model,
        "texts": texts,
        "input_type": DEFAULT_INPUT_TYPE,
        "embedding_types": ["float"],
    }
    if body.get("dimensions") is not None:
        out["output_dimension"] = body["dimensions"]
    return out


def usage_of(usage: Any) -> Usage | None:
    """Cohere's `usage` (or an embed answer's `meta`): its billed units, else its token counts."""
    if not isinstance(usage, dict):
        return None
    units = usage.get("billed_units")
    if not isinstance(units, dict) or not units:
        units = usage.get("tokens")
    if not isinstance(units, dict):
        return None
    (prompt, completion), clamped = bounded_tokens(
        count(units.get("input_tokens")), count(units.get("output_tokens"))
    )
    return Usage(prompt, completion, 0, None, 0, clamped=clamped)


def _openai_usage(usage: Usage | None) -> dict[str, int]:
    prompt, completion = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_answer(payload: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A Cohere chat answer as an OpenAI chat completion."""
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    assert isinstance(message, dict)
    text = "".join(
        str(part.get("text", ""))
        for part in message.get("content") or []
        if isinstance(part, dict) and part.get("type") == "text"
    )
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call.get("function", {}).get("name"),
                    "arguments": call.get("function", {}).get("arguments") or "{}",
                },
            }
            for call in calls
            if isinstance(call, dict)
        ]
    reason = FINISH_REASONS.get(str(payload.get("finish_reason")), "stop")
    return {
        "id": f"chatcmpl-{payload.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": out, "finish_reason": reason, "logprobs": None}],
        "usage": _openai_usage(usage_of(payload.get("usage"))),
    }


def embeddings_answer(payload: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A Cohere embed answer as OpenAI's embeddings list."""
    embeddings = payload.get("embeddings")
    vectors = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(vectors if isinstance(vectors, list) else [])
        ],
        "model": model,
        "usage": {
            "prompt_tokens": ((usage := usage_of(payload.get("meta"))) and usage.prompt_tokens) or 0,
            "total_tokens": (usage and usage.prompt_tokens) or 0,
        },
    }


class CohereAdapter:
    dialect: Dialect = OPENAI
    passthrough = False
    kinds = frozenset({CHAT, EMBEDDINGS})

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        if call.operation == "embeddings":
            body = embed_request(call.parsed, call.upstream_model)
        else:
            body = chat_request(call.parsed, call.upstream_model, call.stream)
        url = call.credential.base_url.rstrip("/") + PATHS[call.operation]
        return UpstreamRequest(url, upstream_headers(call.credential), orjson.dumps(body))

    def answer(self, payload: Any, *, model: str) -> Any:
        if not isinstance(payload, dict):
            return payload
        if "embeddings" in payload:
            return embeddings_answer(payload, model)
        return completion_answer(payload, model)

    def usage(self, payload: Any) -> Usage | None:
        if not isinstance(payload, dict):
            return None
        return usage_of(payload.get("meta") if "embeddings" in payload else payload.get("usage"))

    def stream_relay(self, *, strip_usage: bool, model: str) -> ChunksFromCohere:
        return ChunksFromCohere(wants_usage=not strip_usage, model=model)


class ChunksFromCohere:
    """Cohere's v2 stream events as OpenAI chat chunks, the usage chunk last when asked for."""

    def __init__(self, *, wants_usage: bool, model: str) -> None:
        self.wants_usage = wants_usage
        self.model = model
        self.buffer = b""
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0
        self.id = "chatcmpl-keyplane"
        self.created = int(time.time())
        self.tool_index = -1

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
            data = b"".join(line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:"))
            if data:
                out.append(self._event(data))
        return b"".join(out)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def _event(self, data: bytes) -> bytes:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(event, dict):
            return b""
        kind = event.get("type")
        delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
        assert isinstance(delta, dict)
        message = delta.get("message") if isinstance(delta.get("message"), dict) else {}
        assert isinstance(message, dict)
        if kind == "message-start":
            self.id = f"chatcmpl-{event.get('id', 'keyplane')}"
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content-delta":
            content = message.get("content")
            text = content.get("text", "") if isinstance(content, dict) else ""
            self.content_events += 1
            return self._chunk({"content": text}) if text else b""
        if kind == "tool-call-start":
            call = message.get("tool_calls")
            call = call if isinstance(call, dict) else {}
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            assert isinstance(function, dict)
            self.tool_index += 1
            self.content_events += 1
            shaped = {
                "index": self.tool_index,
                "id": call.get("id"),
                "type": "function",
                "function": {"name": function.get("name"), "arguments": function.get("arguments") or ""},
            }
            return self._chunk({"tool_calls": [shaped]})
        if kind == "tool-call-delta":
            call = message.get("tool_calls")
            function = call.get("function") if isinstance(call, dict) else None
            arguments = function.get("arguments", "") if isinstance(function, dict) else ""
            if not arguments:
                return b""
            return self._chunk(
                {"tool_calls": [{"index": self.tool_index, "function": {"arguments": arguments}}]}
            )
        if kind == "message-end":
            return self._end(delta)
        return b""  # content-start/-end, tool-plan-delta, tool-call-end, citations: nothing to relay

    def _end(self, delta: Mapping[str, Any]) -> bytes:
        self.done = True
        self.usage = usage_of(delta.get("usage"))
        reason = str(delta.get("finish_reason"))
        if reason == "ERROR" or delta.get("error"):
            self.failed = "The provider ended the stream with an error"
            return openai_error_event(str(delta.get("error") or self.failed)[:500])
        out = self._chunk({}, FINISH_REASONS.get(reason, "stop"))
        if self.wants_usage:
            payload = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": _openai_usage(self.usage),
            }
            out += b"data: " + orjson.dumps(payload) + b"\n\n"
        return out + b"data: [DONE]\n\n"

    def flush(self) -> bytes:
        self.buffer = b""
        return b""

    def error_event(self, message: str) -> bytes:
        return openai_error_event(message)
