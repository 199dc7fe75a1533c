"""Anthropic Messages <-> Gemini, without a server: request shapes the end-to-end tests do not reach
(schemas, images, tool errors, thinking), answers' stop reasons and usage, and the SSE relay fed
in odd pieces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.gemini import generate_request, message_answer, usage_of, vertex_schema
from keyplane.gateway.adapters.gemini_stream import AnthropicFromGemini


def test_json_schemas_become_vertex_schemas() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "city": {"type": ["string", "null"], "description": "A city"},
            "days": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "unit": {"anyOf": [{"type": "string", "enum": ["c", "f"]}, {"type": "null"}]},
        },
        "required": ["city"],
    }
    assert vertex_schema(schema) == {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING", "nullable": True, "description": "A city"},
            "days": {"type": "ARRAY", "items": {"type": "INTEGER", "minimum": 1}},
            "unit": {"anyOf": [{"type": "STRING", "enum": ["c", "f"]}, {"nullable": True}]},
        },
        "required": ["city"],
    }


def test_images_documents_tool_errors_and_thinking_are_translated() -> None:
    body = {
        "max_tokens": 100,
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "tool", "name": "lookup"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": "boom"}
                ],
            },
        ],
    }
    out = generate_request(body)
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert out["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
            ],
        },
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "x"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"error": "boom"}}}]},
    ]
    assert out["generationConfig"] == {
        "maxOutputTokens": 100,
        "topK": 5,
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
    }
    assert out["tools"] == [{"functionDeclarations": [{"name": "lookup"}]}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ([{"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}], "base64"),
        ([{"type": "tool_result", "tool_use_id": "nowhere", "content": "x"}], "tool call"),
        ([{"type": "server_tool_use", "id": "x"}], "cannot take a block"),
    ],
)
def test_what_gemini_cannot_take_is_a_400(content: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(BadRequest) as refused:
        generate_request({"max_tokens": 10, "messages": [{"role": "user", "content": content}]})
    assert fragment in refused.value.message


@pytest.mark.parametrize(
    ("finish", "parts", "reason"),
    [
        ("STOP", [{"text": "hi"}], "end_turn"),
        ("STOP", [{"functionCall": {"name": "f", "args": {}}}], "tool_use"),
        ("MAX_TOKENS", [{"text": "hi"}], "max_tokens"),
        ("SAFETY", [], "refusal"),
        ("SOMETHING_NEW", [{"text": "hi"}], "end_turn"),
    ],
)
def test_finish_reasons(finish: str, parts: list[dict[str, Any]], reason: str) -> None:
    payload = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}]}
    assert message_answer(payload, model="m")["stop_reason"] == reason


def test_a_blocked_prompt_is_a_refusal_without_content() -> None:
    answer = message_answer({"promptFeedback": {"blockReason": "SAFETY"}}, model="m")
    assert answer["stop_reason"] == "refusal" and answer["content"] == []


def test_usage_counts_cached_prompt_tokens_and_thinking_as_output() -> None:
    usage = usage_of(
        {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 60,
            "candidatesTokenCount": 7,
            "thoughtsTokenCount": 3,
        }
    )
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (100, 10, 60)


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().split("\n") if line.startswith("data: ")]


def test_the_stream_relay_reads_events_split_anywhere_and_a_last_one_without_its_blank_line() -> None:
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "thinking...", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 2},
        },
    ]
    wire = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks).rstrip(b"\r\n")
    relay = AnthropicFromGemini(model="gemini-x")
    out = b"".join(relay.feed(wire[i : i + 7]) for i in range(0, len(wire), 7)) + relay.flush()
    kinds = [event["type"] for event in _events(out)]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    deltas = [e["delta"] for e in _events(out) if e["type"] == "content_block_delta"]
    assert deltas[0] == {"type": "thinking_delta", "thinking": "thinking..."}
    assert "".join(d.get("text", "") for d in deltas) == "Hello"
    assert relay.done and relay.usage is not None
    assert (relay.usage.prompt_tokens, relay.usage.completion_tokens) == (9, 2)
