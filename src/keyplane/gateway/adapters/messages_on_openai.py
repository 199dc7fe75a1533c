"""Anthropic Messages callers on OpenAI-style credentials: the reverse of chat_on_anthropic.py.

Translated: `system`, text and image blocks, PDF documents, `tool_use` / `tool_result` blocks,
custom tools and `tool_choice`, `max_tokens`, `stop_sequences`, `temperature`, `top_p`,
`metadata.user_id`, streaming. Thinking blocks of earlier turns are dropped (an OpenAI-style model
cannot check their signatures); server tools (web search, code execution) are a 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import anthropic_error_event
from keyplane.gateway.settlement import Usage, usage_from

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def chat_request(body: Mapping[str, Any], *, model: str, stream: bool) -> dict[str, Any]:
    """A Messages body (already checked by the gateway) as a chat completions body."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    elif isinstance(system, list):
        text = "\n\n".join(
            b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
        if text:
            messages.append({"role": "system", "content": text})
    for index, message in enumerate(body["messages"]):
        where = f"messages[{index}]"
        if message["role"] == "assistant":
            messages.append(_assistant(message["content"], where))
        else:
            messages.extend(_user(message["content"], where))
    out: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": body["max_tokens"]}
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and stop:
        out["stop"] = stop
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
        _tool_choice(body.get("tool_choice"), out)
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [block for block in content if isinstance(block, dict)]


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    """Tool results become `tool` messages (first, as they answer the previous turn), the rest one
    user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for number, block in enumerate(_blocks(content)):
        kind = block.get("type")
        if kind == "tool_result":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": _tool_result_text(block, f"{where}.content[{number}]"),
                }
            )
        elif kind not in DROPPED_BLOCKS:
            parts.append(_part(block, f"{where}.content[{number}]"))
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    source = _obj(block.get("source"))
    if kind == "image":
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        elif source.get("type") == "url":
            url = str(source.get("url"))
        else:
            raise BadRequest(f"{where}: image sources must be base64 or url for this model")
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "document":
        if source.get("type") == "text":
            return {"type": "text", "text": str(source.get("data", ""))}
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            data = f"data:application/pdf;base64,{source.get('data')}"
            return {"type": "file", "file": {"filename": "document.pdf", "file_data": data}}
        raise BadRequest(f"{where}: documents must be plain text or a base64 PDF for this model")
    raise BadRequest(f"{where}: content blocks of type '{str(kind)[:50]}' are not supported for this model")


def _tool_result_text(block: Mapping[str, Any], where: str) -> str:
    content = block.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    else:
        text = ""
    return f"Error: {text}" if block.get("is_error") is True else text


def _assistant(content: Any, where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind not in DROPPED_BLOCKS:
            raise BadRequest(f"{where}: assistant blocks of type '{str(kind)[:50]}' are not supported here")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise BadRequest(f"{where}: the server tool '{str(kind)[:60]}' is only available on Anthropic models")
    function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {}}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "auto":
        out["tool_choice"] = "auto"
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def anthropic_usage(usage: Usage | None) -> dict[str, int]:
    """The gateway's counts as Anthropic reports them (input tokens exclude cache reads and writes)."""
    usage = usage or Usage()
    return {
        "input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def _message_id(value: Any) -> str:
    return f"msg_{value}" if isinstance(value, str) and value else f"msg_{uuid.uuid4().hex}"


def message_answer(payload: Any, *, model: str) -> dict[str, Any]:
    """A chat completion as a Messages answer (text, tool calls as `tool_use` blocks)."""
    completion = payload if isinstance(payload, dict) else {}
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = _obj(choice.get("message"))
    content: list[dict[str, Any]] = []
    if isinstance(message.get("content"), str) and message["content"]:
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": function.get("name"),
                "input": _input(function.get("arguments")),
            }
        )
    reason = choice.get("finish_reason")
    return {
        "id": _message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model") if isinstance(completion.get("model"), str) else model,
        "content": content,
        "stop_reason": STOP_REASONS.get(reason, "end_turn") if isinstance(reason, str) else "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(usage_from(completion)),
    }


def _input(arguments: Any) -> dict[str, Any]:
    """Tool call arguments as an object; what does not parse as one is kept as `{"arguments": ...}`."""
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


class MessagesFromChat:
    """Chat completion chunks as Anthropic stream events: `message_start`, one content block per text
    run or tool call, `message_delta` with the stop reason and usage, `message_stop`."""

    def __init__(self, *, model: str) -> None:
        self.model = model
        self.buffer = b""
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0
        self.started = False
        self.block = -1  # index of the open content block
        self.block_kind: str | None = None
        self.tools: dict[int, int] = {}  # OpenAI tool call index -> Anthropic block index
        self.stop_reason = "end_turn"

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
                out.append(self._data(data))
        return b"".join(out)

    def _data(self, data: bytes) -> bytes:
        if data == b"[DONE]":
            return self._finish()
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(payload, dict) or self.done:
            return b""
        if isinstance(payload.get("error"), dict):
            message = payload["error"].get("message")
            self.failed = f"The provider's stream failed: {message if isinstance(message, str) else 'error'}"
            return anthropic_error_event(self.failed)
        out = self._start(payload)
        usage = usage_from(payload)
        if usage is not None:
            self.usage = usage
        for choice in payload.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out += self._choice(choice)
        return out

    def _start(self, payload: Mapping[str, Any]) -> bytes:
        if self.started:
            return b""
        self.started = True
        message: dict[str, Any] = {
            "id": _message_id(payload.get("id")),
            "type": "message",
            "role": "assistant",
            "model": payload.get("model") if isinstance(payload.get("model"), str) else self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: Mapping[str, Any]) -> bytes:
        out = b""
        delta = _obj(choice.get("delta"))
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self.block_kind != "text":
                out += self._open({"type": "text", "text": ""}, "text")
            self.content_events += 1
            out += self._delta({"type": "text_delta", "text": text})
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out += self._tool_call(call)
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self.stop_reason = STOP_REASONS.get(reason, "end_turn")
        return out

    def _tool_call(self, call: Mapping[str, Any]) -> bytes:
        out = b""
        number = call.get("index", 0)
        function = _obj(call.get("function"))
        if number not in self.tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._open(block, "tool_use")
            self.tools[number] = self.block
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self.content_events += 1
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out += _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": self.tools[number], "delta": delta},
            )
        return out

    def _open(self, block: dict[str, Any], kind: str) -> bytes:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        return out + _event(
            "content_block_start",
            {"type": "content_block_start", "index": self.block, "content_block": block},
        )

    def _close(self) -> bytes:
        if self.block_kind is None:
            return b""
        self.block_kind = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self.block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": self.block, "delta": delta}
        )

    def _finish(self) -> bytes:
        if self.done:
            return b""
        out = self._start({}) + self._close()
        self.done = True
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        out += _event(
            "message_delta", {"type": "message_delta", "delta": delta, "usage": anthropic_usage(self.usage)}
        )
        return out + _event("message_stop", {"type": "message_stop"})

    def flush(self) -> bytes:
        self.buffer = b""
        return b""

    def error_event(self, message: str) -> bytes:
        return anthropic_error_event(message)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object from untrusted input, else an empty one."""
    return value if isinstance(value, dict) else {}


def _event(name: str, payload: Mapping[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
