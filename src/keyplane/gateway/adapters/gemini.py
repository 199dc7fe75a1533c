"""Anthropic Messages <-> Gemini's generateContent on Vertex AI: request bodies and answers
(streams: gemini_stream.py).

Requests: `system` -> `systemInstruction`; messages -> `contents` with roles `user`/`model`; text,
base64 images and PDFs (`inlineData`), `tool_use` -> `functionCall`, `tool_result` ->
`functionResponse` (named by the tool call it answers, as Gemini asks); tools ->
`tools[].functionDeclarations` (schemas reduced to the OpenAPI subset Vertex takes), `tool_choice`
-> `toolConfig.functionCallingConfig`; `max_tokens`/`temperature`/`top_p`/`top_k`/`stop_sequences`
-> `generationConfig`, `thinking` -> `thinkingConfig`. Gemini cannot fetch image URLs for us, and
thinking blocks of earlier turns are dropped (their signatures are Anthropic's).

Answers: parts back to blocks (`thought` parts as thinking), `finishReason` to a stop reason, and
`usageMetadata` to Anthropic's usage: `promptTokenCount` includes `cachedContentTokenCount`
(reads), output is `candidatesTokenCount` plus `thoughtsTokenCount` (thinking is billed as output).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import usage_of as anthropic_usage
from keyplane.gateway.adapters.base import count
from keyplane.gateway.settlement import Usage

ROLES = {"user": "user", "assistant": "model"}
GENERATION = {
    "max_tokens": "maxOutputTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
}
# Gemini finishReason -> Anthropic stop_reason (a function call overrides STOP with tool_use).
STOP_REASONS = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "LANGUAGE": "refusal",
}
# The keys of Vertex's `Schema` (an OpenAPI 3.0 subset); anything else in a JSON schema is dropped.
SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "default",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "properties",
        "propertyOrdering",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "minimum",
        "maximum",
    }
)


def generate_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Messages body (the model goes in the URL, `stream` picks the method) as generateContent's."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages must be an array", code="invalid_messages")
    names: dict[str, str] = {}  # tool_use id -> function name, for the functionResponse parts
    contents: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = ROLES.get(str(message.get("role"))) if isinstance(message, dict) else None
        if role is None:
            raise BadRequest(f"{where}.role must be user or assistant", code="invalid_messages")
        parts = _parts(message.get("content"), where, names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    out: dict[str, Any] = {"contents": contents}
    system = _system_parts(body.get("system"))
    if system:
        out["systemInstruction"] = {"parts": system}
    config: dict[str, Any] = {
        target: body[name] for name, target in GENERATION.items() if body.get(name) is not None
    }
    stops = body.get("stop_sequences")
    if isinstance(stops, list) and stops:
        config["stopSequences"] = [s for s in stops if isinstance(s, str)]
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        config["thinkingConfig"] = {"includeThoughts": True, **({"thinkingBudget": budget} if budget else {})}
    if config:
        out["generationConfig"] = config
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [
            {"functionDeclarations": [_declaration(t, f"tools[{i}]") for i, t in enumerate(tools)]}
        ]
        choice = _tool_config(body.get("tool_choice"))
        if choice is not None:
            out["toolConfig"] = choice
    return out


def _system_parts(system: Any) -> list[dict[str, Any]]:
    if isinstance(system, str):
        return [{"text": system}] if system else []
    if isinstance(system, list):
        return [
            {"text": block["text"]}
            for block in system
            if isinstance(block, dict) and isinstance(block.get("text"), str) and block["text"]
        ]
    return []


def _parts(content: Any, where: str, names: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array of blocks", code="invalid_messages")
    parts: list[dict[str, Any]] = []
    for number, block in enumerate(content):
        part = _part(block, f"{where}.content[{number}]", names)
        if part is not None:
            parts.append(part)
    return parts


def _part(block: Any, where: str, names: dict[str, str]) -> dict[str, Any] | None:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(block, dict):
        raise BadRequest(f"{where} must be a content block", code="invalid_messages")
    if kind == "text":
        text = block.get("text")
        return {"text": text} if isinstance(text, str) and text else None
    if kind in ("image", "document"):
        return {"inlineData": _inline(block, where)}
    if kind == "tool_use":
        name = str(block.get("name", ""))
        names[str(block.get("id", ""))] = name
        arguments = block.get("input")
        return {"functionCall": {"name": name, "args": arguments if isinstance(arguments, dict) else {}}}
    if kind == "tool_result":
        call = str(block.get("tool_use_id", ""))
        if call not in names:
            raise BadRequest(
                f"{where}: a tool result must answer a tool call of an earlier assistant turn",
                code="invalid_messages",
            )
        text = _result_text(block.get("content"), where)
        response = {"error": text} if block.get("is_error") is True else {"content": text}
        return {"functionResponse": {"name": names[call], "response": response}}
    if kind in ("thinking", "redacted_thinking"):
        return None
    raise BadRequest(
        f"{where}: Gemini cannot take a block of type {str(kind)[:40]!r}", code="invalid_messages"
    )


def _inline(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise BadRequest(
            f"{where}: Gemini on Vertex AI takes images and documents as base64 data, not URLs",
            code="invalid_messages",
        )
    media = source.get("media_type")
    data = source.get("data")
    if not isinstance(media, str) or not isinstance(data, str):
        raise BadRequest(f"{where}.source needs media_type and data", code="invalid_messages")
    return {"mimeType": media, "data": data}


def _result_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or text blocks", code="invalid_messages")
    texts: list[str] = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "text":
            raise BadRequest(f"{where}.content: Gemini takes text tool results only", code="invalid_messages")
        texts.append(str(block.get("text", "")))
    return "".join(texts)


def _declaration(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
        raise BadRequest(f"{where} must be a tool with a name", code="invalid_tools")
    declaration: dict[str, Any] = {"name": tool["name"]}
    if isinstance(tool.get("description"), str) and tool["description"]:
        declaration["description"] = tool["description"]
    schema = tool.get("input_schema")
    if isinstance(schema, dict) and schema.get("properties"):
        declaration["parameters"] = vertex_schema(schema)
    return declaration


def vertex_schema(schema: Any) -> Any:
    """A JSON schema as Vertex's `Schema`: its keys only, types upper-cased, `["x", "null"]` as
    `nullable`."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYS:
            continue
        if key == "type":
            kinds = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
            if "null" in kinds:
                out["nullable"] = True
            real = [k for k in kinds if k != "null"]
            if real:
                out["type"] = real[0].upper()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: vertex_schema(item) for name, item in value.items()}
        elif key == "items" or key == "anyOf":
            out[key] = [vertex_schema(v) for v in value] if isinstance(value, list) else vertex_schema(value)
        else:
            out[key] = value
    return out


def _tool_config(choice: Any) -> dict[str, Any] | None:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "any":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if kind == "tool" and isinstance(choice, dict):
        names = [str(choice.get("name", ""))]
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": names}}
    if kind == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if kind == "auto":
        return {"functionCallingConfig": {"mode": "AUTO"}}
    return None


# ---- answers -------------------------------------------------------------------------------------


def anthropic_usage_fields(metadata: Any) -> dict[str, int]:
    """`usageMetadata` with Anthropic's names: fresh input, cache reads, output with thinking."""
    metadata = metadata if isinstance(metadata, dict) else {}
    prompt = count(metadata.get("promptTokenCount"))
    cached = min(count(metadata.get("cachedContentTokenCount")), prompt)
    output = count(metadata.get("candidatesTokenCount")) + count(metadata.get("thoughtsTokenCount"))
    return {
        "input_tokens": prompt - cached,
        "output_tokens": output,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def usage_of(metadata: Any) -> Usage | None:
    """Gemini's usage as the gateway counts it (prompt tokens include the cached ones)."""
    return anthropic_usage(anthropic_usage_fields(metadata)) if isinstance(metadata, dict) else None


def stop_reason(finish: Any, *, called: bool) -> str:
    if called and finish in (None, "STOP"):
        return "tool_use"
    return STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def tool_use_id(part: Mapping[str, Any], number: int) -> str:
    """Gemini may name its calls (`functionCall.id`); else one is made, unique in the answer."""
    call = part.get("functionCall")
    given = call.get("id") if isinstance(call, dict) else None
    return given if isinstance(given, str) and given else f"toolu_vrtx_{uuid.uuid4().hex[:16]}_{number}"


def message_answer(payload: Mapping[str, Any], *, model: str) -> dict[str, Any]:
    """A generateContent answer as an Anthropic message naming the caller's model."""
    candidates = payload.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    candidate = candidate if isinstance(candidate, dict) else {}
    content = candidate.get("content") if isinstance(candidate.get("content"), dict) else {}
    assert isinstance(content, dict)
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content.get("parts") or ()):
        block = answer_block(part, number)
        if block is not None:
            blocks.append(block)
    called = any(block["type"] == "tool_use" for block in blocks)
    reason = stop_reason(candidate.get("finishReason"), called=called)
    if not candidates and isinstance(payload.get("promptFeedback"), dict):
        reason = "refusal"  # the prompt itself was blocked
    return {
        "id": f"msg_vrtx_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": anthropic_usage_fields(payload.get("usageMetadata")),
    }


def answer_block(part: Any, number: int) -> dict[str, Any] | None:
    """One part of an answer as an Anthropic block; None for what has no equal."""
    if not isinstance(part, dict):
        return None
    if isinstance(part.get("text"), str):
        if part.get("thought") is True:
            return {"type": "thinking", "thinking": part["text"], "signature": ""}
        return {"type": "text", "text": part["text"]}
    call = part.get("functionCall")
    if isinstance(call, dict):
        arguments = call.get("args")
        return {
            "type": "tool_use",
            "id": tool_use_id(part, number),
            "name": str(call.get("name", "")),
            "input": arguments if isinstance(arguments, dict) else {},
        }
    return None


def arguments_json(part: Mapping[str, Any]) -> str:
    call = part.get("functionCall")
    arguments = call.get("args") if isinstance(call, dict) else None
    return orjson.dumps(arguments if isinstance(arguments, dict) else {}).decode()
