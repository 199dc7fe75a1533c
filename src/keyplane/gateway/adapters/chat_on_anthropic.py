"""OpenAI chat callers on Anthropic credentials: the request to Messages, the answer and stream back.

Translated: system/developer messages, roles, text and image parts (base64 data URLs and http(s)
URLs), PDF files, tools and `tool_choice`, assistant tool calls and tool results, `max_tokens`,
`stop`, `temperature`, `top_p`, `user`; `top_k` and `thinking` pass through as Anthropic
extensions. What Messages cannot do (several choices, JSON response formats, audio) is a 400.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import AnthropicEvents, usage_of
from keyplane.gateway.adapters.openai import openai_error_event
from keyplane.gateway.settlement import Usage

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
PASSED_THROUGH = ("temperature", "top_p", "top_k", "thinking")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")


def tool_id(value: Any) -> str:
    """Anthropic allows letters, digits, `_` and `-` in tool ids; other providers' ids are mapped."""
    return _UNSAFE_ID.sub("_", value) if isinstance(value, str) and value else "call"


def messages_request(body: Mapping[str, Any], *, model: str, max_tokens: int, stream: bool) -> dict[str, Any]:
    """A chat completions body (already checked by the gateway) as a Messages body."""
    if body.get("n") not in (None, 1):
        # Every adapter fed Messages (Anthropic, Bedrock, Vertex) answers with one choice.
        raise BadRequest("n > 1 is not supported for this model's provider", code="unsupported_parameter")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise BadRequest(
            "response_format JSON modes are not supported for this model's provider; use a tool instead",
            code="unsupported_parameter",
        )
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(body["messages"]):
        role = message.get("role")
        where = f"messages[{index}]"
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), where))
        elif role == "user":
            _append(messages, "user", _user_blocks(message.get("content"), where))
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message, where))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message, where)])
        else:
            raise BadRequest(f"{where}.role must be system, developer, user, assistant or tool")
    out: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if system:
        out["system"] = system
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    for name in PASSED_THROUGH:
        if body.get(name) is not None:
            out[name] = body[name]
    if isinstance(body.get("user"), str) and body["user"]:
        out["metadata"] = {"user_id": body["user"][:256]}
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    if stream:
        out["stream"] = True
    return out


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Consecutive turns of one role become one message (tool results first, as Anthropic asks)."""
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _text(text: str, part: Mapping[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if part is not None and isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [_text(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of text parts")
    blocks = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            raise BadRequest(f"{where}.content may only hold text parts here")
        text = part.get("text") if part.get("type") == "text" else part.get("refusal")
        if isinstance(text, str) and text:
            blocks.append(_text(text, part))
    return blocks


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [_text(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of parts")
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if isinstance(part.get("text"), str) and part["text"]:
                blocks.append(_text(part["text"], part))
        elif kind == "image_url":
            blocks.append(_image(part, f"{where}.content[{number}]"))
        elif kind == "file":
            blocks.append(_document(part, f"{where}.content[{number}]"))
        else:
            raise BadRequest(
                f"{where}.content[{number}]: only text, image_url and file parts can be sent to "
                "Anthropic models"
            )
    return blocks


def _image(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise BadRequest(f"{where}.image_url.url must be a string")
    found = _DATA_URL.match(url)
    if found:
        source: dict[str, Any] = {"type": "base64", "media_type": found[1], "data": found[2]}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        raise BadRequest(f"{where}.image_url.url must be an http(s) URL or a base64 data URL")
    block: dict[str, Any] = {"type": "image", "source": source}
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _document(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    file = part.get("file")
    data = file.get("file_data") if isinstance(file, dict) else None
    found = _DATA_URL.match(data) if isinstance(data, str) else None
    if found is None or found[1] != "application/pdf":
        raise BadRequest(f"{where}: only PDF files sent as a base64 data URL can be sent to Anthropic models")
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": found[2]},
    }


def _assistant_blocks(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _text_blocks(message.get("content"), where) if message.get("content") is not None else []
    calls = message.get("tool_calls")
    if calls is None:
        return blocks
    if not isinstance(calls, list):
        raise BadRequest(f"{where}.tool_calls must be an array")
    for number, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{where}.tool_calls[{number}].function.name is required")
        arguments = function.get("arguments") if isinstance(function, dict) else None
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id(call.get("id")),
                "name": name,
                "input": _arguments(arguments, f"{where}.tool_calls[{number}].function.arguments"),
            }
        )
    return blocks


def _arguments(arguments: Any, where: str) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest(f"{where} must be a JSON object")
    return parsed


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(message.get("tool_call_id"))}
    content = message.get("content")
    if isinstance(content, list):
        parts = _user_blocks(content, where)
        if parts:
            block["content"] = parts
    elif isinstance(content, str) and content:
        block["content"] = content
    return block


def _tool(tool: Any, where: str) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequest(f"{where} must be a function tool with a name")
    schema = function.get("parameters")
    if not isinstance(schema, dict) or not schema:
        schema = {"type": "object", "properties": {}}
    elif "type" not in schema:
        schema = {"type": "object", **schema}
    out: dict[str, Any] = {"name": function["name"], "input_schema": schema}
    if isinstance(function.get("description"), str) and function["description"]:
        out["description"] = function["description"]
    if isinstance(tool.get("cache_control"), dict):
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        out: dict[str, Any] = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    elif choice in (None, "auto"):
        if parallel is not False:
            return None
        out = {"type": "auto"}
    else:
        raise BadRequest("tool_choice must be none, auto, required or a named function")
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def openai_usage(usage: Usage) -> dict[str, Any]:
    """The gateway's counts in OpenAI's shape; cache writes are named as Anthropic names them."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def completion_answer(payload: Any, *, model: str) -> dict[str, Any]:
    """A Messages answer as a chat completion (text, tool calls, thinking as `reasoning_content`)."""
    message = payload if isinstance(payload, dict) else {}
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    answer: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        answer["tool_calls"] = calls
    if thinking:
        answer["reasoning_content"] = "".join(thinking)
    reason = message.get("stop_reason")
    return {
        "id": f"chatcmpl-{message.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model") if isinstance(message.get("model"), str) else model,
        "choices": [
            {
                "index": 0,
                "message": answer,
                "finish_reason": FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop",
                "logprobs": None,
            }
        ],
        "usage": openai_usage(usage_of(message.get("usage")) or Usage()),
    }


class ChatFromAnthropic(AnthropicEvents):
    """Anthropic stream events as chat completion chunks, event by event; the usage chunk last when
    the caller asked for it (`stream_options.include_usage`), then `[DONE]`."""

    def __init__(self, *, model: str, wants_usage: bool) -> None:
        super().__init__()
        self.model = model
        self.wants_usage = wants_usage
        self.id = "chatcmpl-keyplane"
        self.created = int(time.time())
        self.tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index

    def on_event(self, event: bytes) -> bytes:
        payload = self.read(event)
        kind = payload.get("type") if payload is not None else None
        if kind == "message_start":
            message = payload.get("message") if payload else None
            if isinstance(message, dict):
                self.id = f"chatcmpl-{message.get('id', '')}"
                if isinstance(message.get("model"), str):
                    self.model = message["model"]
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start" and payload is not None:
            block = payload.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                index = len(self.tools)
                self.tools[_int(payload.get("index"))] = index
                function = {"name": block.get("name"), "arguments": ""}
                call = {"index": index, "id": block.get("id"), "type": "function", "function": function}
                return self._chunk({"tool_calls": [call]})
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
                return self._chunk({"content": block["text"]})
            return b""
        if kind == "content_block_delta" and payload is not None:
            return self._delta(payload)
        if kind == "message_delta" and payload is not None:
            delta = payload.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            finish = FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"
            return self._chunk({}, finish)
        if kind == "message_stop":
            tail = b""
            if self.wants_usage:
                usage = openai_usage(self.usage or Usage())
                tail = self._data({**self._base(), "choices": [], "usage": usage})
            return tail + b"data: [DONE]\n\n"
        if kind == "error":
            return openai_error_event(self.failed or "The provider's stream failed")
        return b""  # ping, content_block_stop, signatures and anything newer: nothing to say

    def _delta(self, payload: Mapping[str, Any]) -> bytes:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return b""
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            return self._chunk({"content": delta["text"]})
        if kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            index = self.tools.get(_int(payload.get("index")))
            if index is None:
                return b""
            call = {"index": index, "function": {"arguments": delta["partial_json"]}}
            return self._chunk({"tool_calls": [call]})
        if kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
            return self._chunk({"reasoning_content": delta["thinking"]})
        return b""

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._data({**self._base(), "choices": [choice]})

    @staticmethod
    def _data(payload: Mapping[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def error_event(self, message: str) -> bytes:
        return openai_error_event(message)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
