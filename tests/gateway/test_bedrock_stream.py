"""converse-stream decoding on its own: frames split anywhere, checksums enforced, events mapped."""

from __future__ import annotations

import orjson

from keyplane.gateway.adapters.bedrock_stream import AnthropicFromConverse
from tests.fakes.bedrock import event

FRAMES = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
    event("contentBlockStop", {"contentBlockIndex": 0}),
    event("messageStop", {"stopReason": "max_tokens"}),
    event("metadata", {"usage": {"inputTokens": 4, "outputTokens": 2, "cacheReadInputTokens": 1}}),
]


def _events(data: bytes) -> list[dict[str, object]]:
    return [orjson.loads(line[6:]) for line in data.split(b"\n") if line.startswith(b"data: ")]


def test_frames_fed_one_byte_at_a_time_become_anthropic_events() -> None:
    relay = AnthropicFromConverse(model="claude")
    out = b"".join(relay.feed(bytes([byte])) for byte in b"".join(FRAMES))
    kinds = [e["type"] for e in _events(out)]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert _events(out)[4]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert relay.done and relay.failed is None
    assert relay.usage is not None
    assert (relay.usage.prompt_tokens, relay.usage.completion_tokens, relay.usage.cached_tokens) == (5, 2, 1)


def test_a_frame_with_a_broken_checksum_fails_the_stream() -> None:
    relay = AnthropicFromConverse(model="claude")
    broken = bytearray(FRAMES[1])
    broken[-1] ^= 0xFF
    out = relay.feed(FRAMES[0] + bytes(broken))
    assert relay.failed is not None and "ChecksumMismatch" in relay.failed
    assert _events(out)[-1]["type"] == "error" and not relay.done
