"""The translators on their own: requests that Anthropic's schema accepts, streams split anywhere,
usage read the way Anthropic reports it (start, then cumulative deltas)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import AnthropicEvents, usage_of
from keyplane.gateway.adapters.chat_on_anthropic import ChatFromAnthropic, messages_request, tool_id
from keyplane.gateway.adapters.messages_on_openai import MessagesFromChat, chat_request
from keyplane.gateway.settlement import Usage
from tests.fakes.anthropic_schema import MessagesRequest

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call.2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call.2", "content": [{"type": "text", "text": "rainy"}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And this?"},
            {"type": "image_url", "image_url": "https://x.org/a.png"},
        ],
    },
]
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"properties": {"city": {"type": "string"}}}},
    }
]


def test_a_whole_openai_conversation_becomes_a_valid_messages_request() -> None:
    body = {
        "model": "m",
        "messages": CONVERSATION,
        "tools": TOOLS,
        "parallel_tool_calls": False,
        "stop": "END",
    }
    translated = messages_request(body, model="claude-x", max_tokens=100, stream=True)
    MessagesRequest.model_validate(translated)  # what the real API would accept
    assert translated["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use tools."},
    ]
    user = translated["messages"][2]
    assert [b["type"] for b in user["content"]] == ["tool_result", "tool_result", "text", "image"]
    assert user["content"][1]["tool_use_id"] == tool_id("call.2") == "call_2"
    assert translated["messages"][1]["content"][1]["id"] == "call_2"
    assert translated["tools"][0]["input_schema"]["type"] == "object"
    assert translated["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert (translated["stop_sequences"], translated["stream"]) == (["END"], True)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "only text"),
        ({"messages": [{"role": "narrator", "content": "x"}]}, "role"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}],
                    }
                ]
            },
            "JSON object",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}},
            "response_format",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}
                ]
            },
            "URL",
        ),
    ],
)
def test_what_messages_cannot_say_is_a_400_naming_it(body: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        messages_request({"model": "m", **body}, model="m", max_tokens=1, stream=False)


@pytest.mark.parametrize(
    "change",
    [
        {"stream_options": {"include_usage": True}},  # an OpenAI field leaking through
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        {
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": "x"},
            ]
        },
        {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}]},
        {"temperature": 1.5},
        {"max_tokens": None},
    ],
)
def test_the_fakes_schema_refuses_what_anthropic_refuses(change: dict[str, Any]) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **change}
    with pytest.raises(ValidationError):
        MessagesRequest.model_validate(body)


def _events(*payloads: dict[str, Any]) -> bytes:
    return b"".join(
        b"event: " + p["type"].encode() + b"\ndata: " + orjson.dumps(p) + b"\n\n" for p in payloads
    )


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "model": "claude-x",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 1,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 7,
        },
    },
}
STREAM = _events(
    START,
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hé"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use"},
        "usage": {"output_tokens": 9, "cache_read_input_tokens": 8},
    },
    {"type": "message_stop"},
)


def test_stream_usage_is_the_start_overwritten_by_the_last_deltas_totals() -> None:
    relay = AnthropicEvents()
    assert relay.feed(STREAM) == STREAM  # passed through byte for byte
    assert relay.done and relay.failed is None
    # input 10 and cache writes 5 kept from message_start; reads and output from the delta
    assert relay.usage == Usage(prompt_tokens=23, completion_tokens=9, cached_tokens=8, cache_write_tokens=5)
    assert usage_of({"input_tokens": 3, "output_tokens": 2}) == Usage(3, 2)


def test_a_stream_split_anywhere_translates_to_the_same_chunks() -> None:
    whole = ChatFromAnthropic(model="m", wants_usage=True)
    expected = whole.feed(STREAM)
    pieces = ChatFromAnthropic(model="m", wants_usage=True)
    got = b"".join(pieces.feed(STREAM[i : i + 7]) for i in range(0, len(STREAM), 7))
    assert _without_created(got) == _without_created(expected)
    chunks = [json.loads(line[6:]) for line in expected.decode().splitlines() if line.startswith("data: {")]
    assert expected.endswith(b"data: [DONE]\n\n")
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hé"
    calls = [t for c in chunks if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert calls[0]["id"] == "toolu_1" and "".join(t["function"]["arguments"] for t in calls) == '{"a":1}'
    assert [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ] == ["tool_calls"]
    assert (
        chunks[-1]["usage"]["prompt_tokens"] == 23
        and chunks[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 8
    )


def _without_created(data: bytes) -> list[Any]:
    found = []
    for line in data.decode().splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line[6:])
            chunk.pop("created", None)
            found.append(chunk)
    return found


def test_a_messages_request_becomes_chat_with_tool_results_as_tool_messages() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "done", "is_error": True}
                ],
            },
        ],
        "tool_choice": {"type": "tool", "name": "f"},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "top_k": 3,
    }
    assert chat_request(body, model="gpt", stream=True) == {
        "model": "gpt",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "Error: done"},
        ],
        "max_tokens": 5,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_chat_chunks_become_a_well_formed_event_sequence() -> None:
    base = {"id": "c1", "model": "gpt"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a"'}}
                        ]
                    },
                }
            ],
        },
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}}
            ],
        },
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 2},
            },
        },
    ]
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    relay = MessagesFromChat(model="gpt")
    out = b"".join(relay.feed(data[i : i + 5]) for i in range(0, len(data), 5))
    events = [json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == [
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
    assert events[4]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"] == {
        "input_tokens": 7,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2,
    }
    assert relay.done and relay.usage == Usage(9, 4, 2)
