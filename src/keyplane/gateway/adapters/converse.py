"""Anthropic Messages <-> Bedrock's Converse: request bodies and answers (streams: bedrock_stream.py).

The two are close: content blocks map one to one (text, base64 images and PDFs, tool_use/toolUse,
tool_result/toolResult, thinking/reasoningContent), `cache_control` becomes a `cachePoint` after
its block, `max_tokens`/`temperature`/`top_p`/`stop_sequences` go into `inferenceConfig`, and
`top_k`/`thinking` into `additionalModelRequestFields` (Claude reads them there). Converse takes no
image URLs and has no `tool_choice: none` (the tools stay, the choice is left to the model).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import usage_of as anthropic_usage
from keyplane.gateway.settlement import Usage

# Converse stopReason -> Anthropic stop_reason (OpenAI callers get chat_on_anthropic's finish reasons).
STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}
CACHE_POINT = {"cachePoint": {"type": "default"}}


def converse_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Messages body (the model goes in the URL, `stream` picks the path) as a Converse body."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages must be an array", code="invalid_messages")
    out: dict[str, Any] = {"messages": [_message(m, f"messages[{i}]") for i, m in enumerate(messages)]}
    system = body.get("system")
    if isinstance(system, str) and system:
        out["system"] = [{"text": system}]
    elif isinstance(system, list) and system:
        out["system"] = _blocks(system, "system")
    config: dict[str, Any] = {
        target: body[name] for name, target in INFERENCE.items() if body.get(name) is not None
    }
    stops = body.get("stop_sequences")
    if isinstance(stops, list) and stops:
        config["stopSequences"] = stops
    if config:
        out["inferenceConfig"] = config
    extra = {name: body[name] for name in ("top_k", "thinking") if body.get(name) is not None}
    if extra:
        out["additionalModelRequestFields"] = extra
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["toolConfig"] = _tool_config(tools, body.get("tool_choice"))
    return out


def _message(message: Any, where: str) -> dict[str, Any]:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("user", "assistant"):
        raise BadRequest(f"{where}.role must be user or assistant", code="invalid_messages")
    content = message.get("content")
    if isinstance(content, str):
        return {"role": role, "content": [{"text": content}]}
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of blocks", code="invalid_messages")
    return {"role": role, "content": _blocks(content, f"{where}.content")}


def _blocks(blocks: list[Any], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, block in enumerate(blocks):
        out.append(_block(block, f"{where}[{number}]"))
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
            out.append(CACHE_POINT)
    return out


def _block(block: Any, where: str) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, dict) else None
    assert kind is None or isinstance(block, dict)
    if kind == "text":
        return {"text": str(block.get("text", ""))}
    if kind == "image":
        return {"image": _image(block, where)}
    if kind == "document":
        source = block.get("source") if isinstance(block.get("source"), dict) else {}
        if source.get("type") != "base64" or source.get("media_type") != "application/pdf":
            raise BadRequest(f"{where}: Bedrock takes documents as base64 PDF data", code="invalid_messages")
        name = str(block.get("title") or "document")[:200]
        return {"document": {"format": "pdf", "name": name, "source": {"bytes": source.get("data", "")}}}
    if kind == "tool_use":
        use = {
            "toolUseId": str(block.get("id", "")),
            "name": str(block.get("name", "")),
            "input": block.get("input") or {},
        }
        return {"toolUse": use}
    if kind == "tool_result":
        return {"toolResult": _tool_result(block, where)}
    if kind == "thinking":
        text = {"text": str(block.get("thinking", "")), "signature": str(block.get("signature", ""))}
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": str(block.get("data", ""))}}
    raise BadRequest(
        f"{where}: Bedrock cannot take a block of type {str(kind)[:40]!r}", code="invalid_messages"
    )


def _image(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    assert isinstance(source, dict)
    image_format = IMAGE_FORMATS.get(str(source.get("media_type")))
    if source.get("type") != "base64" or image_format is None:
        raise BadRequest(
            f"{where}: Bedrock takes images as base64 PNG, JPEG, GIF or WebP data, not URLs",
            code="invalid_messages",
        )
    return {"format": image_format, "source": {"bytes": source.get("data", "")}}


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    content = block.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"text": content})
    elif isinstance(content, list):
        for number, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                parts.append({"text": str(part.get("text", ""))})
            elif kind == "image":
                parts.append({"image": _image(part, f"{where}.content[{number}]")})
            else:
                raise BadRequest(f"{where}.content[{number}]: only text and images", code="invalid_messages")
    result: dict[str, Any] = {
        "toolUseId": str(block.get("tool_use_id", "")),
        "content": parts or [{"text": ""}],
    }
    if block.get("is_error") is True:
        result["status"] = "error"
    return result


def _tool_config(tools: list[Any], choice: Any) -> dict[str, Any]:
    specs: list[dict[str, Any]] = []
    for number, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise BadRequest(f"tools[{number}] must be a tool with a name", code="invalid_tools")
        spec: dict[str, Any] = {"name": tool["name"]}
        if isinstance(tool.get("description"), str) and tool["description"]:
            spec["description"] = tool["description"]
        schema = tool.get("input_schema")
        spec["inputSchema"] = {"json": schema if isinstance(schema, dict) else {"type": "object"}}
        specs.append({"toolSpec": spec})
        if isinstance(tool.get("cache_control"), dict):
            specs.append(CACHE_POINT)
    config: dict[str, Any] = {"tools": specs}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        config["toolChoice"] = {"auto": {}}
    elif kind == "any":
        config["toolChoice"] = {"any": {}}
    elif kind == "tool" and isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": str(choice.get("name", ""))}}
    return config


# ---- answers -------------------------------------------------------------------------------------


def anthropic_usage_fields(usage: Any) -> dict[str, int]:
    """Converse's `usage` with Anthropic's names (inputTokens excludes cache reads and writes there too)."""
    usage = usage if isinstance(usage, dict) else {}
    return {
        "input_tokens": _int(usage.get("inputTokens")),
        "output_tokens": _int(usage.get("outputTokens")),
        "cache_read_input_tokens": _int(usage.get("cacheReadInputTokens")),
        "cache_creation_input_tokens": _int(usage.get("cacheWriteInputTokens")),
    }


def usage_of(usage: Any) -> Usage | None:
    """Converse's usage as the gateway counts it (prompt tokens include cache reads and writes)."""
    return anthropic_usage(anthropic_usage_fields(usage)) if isinstance(usage, dict) else None


def message_answer(payload: Mapping[str, Any], *, model: str) -> dict[str, Any]:
    """A Converse answer as an Anthropic message naming the caller's model."""
    output = payload.get("output") if isinstance(payload.get("output"), dict) else {}
    assert isinstance(output, dict)
    message = output.get("message") if isinstance(output.get("message"), dict) else {}
    assert isinstance(message, dict)
    content = [shaped for block in message.get("content") or () if (shaped := answer_block(block))]
    reason = payload.get("stopReason")
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS.get(reason, "end_turn") if isinstance(reason, str) else "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage_fields(payload.get("usage")),
    }


def answer_block(block: Any) -> dict[str, Any] | None:
    """One Converse content block of an answer as an Anthropic block; None for what has no equal."""
    if not isinstance(block, dict):
        return None
    if isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    use = block.get("toolUse")
    if isinstance(use, dict):
        return {
            "type": "tool_use",
            "id": use.get("toolUseId"),
            "name": use.get("name"),
            "input": use.get("input") or {},
        }
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        text = reasoning.get("reasoningText")
        if isinstance(text, dict):
            return {
                "type": "thinking",
                "thinking": text.get("text", ""),
                "signature": text.get("signature", ""),
            }
        if isinstance(reasoning.get("redactedContent"), str):
            return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
