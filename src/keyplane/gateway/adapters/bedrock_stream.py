"""Bedrock's converse-stream (AWS binary event-stream frames) as Anthropic stream events.

Frames are parsed by botocore's `EventStreamBuffer`, which checks the prelude and message CRCs.
Converse events map to Anthropic's: `messageStart` -> `message_start`, a block's first delta (or a
`contentBlockStart` for tool use) -> `content_block_start`, `contentBlockDelta` -> text, tool
input or thinking deltas, `contentBlockStop` -> `content_block_stop`; `messageStop` holds the stop
reason until `metadata` brings the usage, then `message_delta` and `message_stop` end the stream.
An `exception` frame (throttling, validation, a model error) becomes an `error` event.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from keyplane.gateway.adapters.anthropic import anthropic_error_event
from keyplane.gateway.adapters.converse import STOP_REASONS, anthropic_usage_fields, usage_of
from keyplane.gateway.settlement import Usage


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"


class AnthropicFromConverse:
    """A relay of converse-stream bytes into Anthropic events, metered from the `metadata` event."""

    def __init__(self, *, model: str) -> None:
        # botocore is imported by the first Bedrock stream, not by every server at start.
        from botocore.eventstream import EventStreamBuffer, ParserError

        self.model = model
        self.frames = EventStreamBuffer()
        self.corrupt: type[Exception] = ParserError
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0
        self.open: dict[int, str] = {}  # block index -> Anthropic block type, while open
        self.stop_reason = "end_turn"

    def feed(self, chunk: bytes) -> bytes:
        if self.failed is not None:
            return b""
        self.frames.add_data(chunk)
        out: list[bytes] = []
        try:
            for frame in self.frames:
                headers = cast(dict[str, Any], frame.headers)  # the stubs call it an int
                out.append(self._frame(headers, frame.payload))
        except self.corrupt as exc:
            self.failed = f"The provider's event stream is corrupt: {type(exc).__name__}"
            out.append(anthropic_error_event(self.failed))
        return b"".join(out)

    def _frame(self, headers: dict[str, Any], payload: bytes) -> bytes:
        try:
            body = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if headers.get(":message-type") != "event":
            name = str(headers.get(":exception-type") or headers.get(":error-code") or "error")
            said = str(body.get("message") or headers.get(":error-message") or "the stream failed")[:500]
            self.failed = f"The provider's stream failed: {name}: {said}"
            error_type = "overloaded_error" if "throttl" in name.lower() else "api_error"
            return anthropic_error_event(said, error_type)
        kind = headers.get(":event-type")
        if kind == "messageStart":
            message: dict[str, Any] = {
                "id": "msg_bdrk_stream",
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            return _event("message_start", {"message": message})
        if kind == "contentBlockStart":
            return self._start(body)
        if kind == "contentBlockDelta":
            return self._delta(body)
        if kind == "contentBlockStop":
            index = _index(body)
            return _event("content_block_stop", {"index": index}) if self.open.pop(index, None) else b""
        if kind == "messageStop":
            reason = body.get("stopReason")
            self.stop_reason = STOP_REASONS.get(reason, "end_turn") if isinstance(reason, str) else "end_turn"
            return self._close_all()
        if kind == "metadata":
            return self._end(body.get("usage"))
        return b""

    def _start(self, body: dict[str, Any]) -> bytes:
        index = _index(body)
        start = body.get("start") if isinstance(body.get("start"), dict) else {}
        assert isinstance(start, dict)
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return self._open(index, "text")
        self.open[index] = "tool_use"
        self.content_events += 1
        block: dict[str, Any] = {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name")}
        block["input"] = {}
        return _event("content_block_start", {"index": index, "content_block": block})

    def _open(self, index: int, kind: str) -> bytes:
        if index in self.open:
            return b""
        self.open[index] = kind
        block: dict[str, Any] = (
            {"type": kind, "text": ""} if kind == "text" else {"type": kind, "thinking": ""}
        )
        return _event("content_block_start", {"index": index, "content_block": block})

    def _delta(self, body: dict[str, Any]) -> bytes:
        index = _index(body)
        delta = body.get("delta") if isinstance(body.get("delta"), dict) else {}
        assert isinstance(delta, dict)
        self.content_events += 1
        if isinstance(delta.get("text"), str):
            head = self._open(index, "text")
            return head + _event(
                "content_block_delta",
                {"index": index, "delta": {"type": "text_delta", "text": delta["text"]}},
            )
        use = delta.get("toolUse")
        if isinstance(use, dict) and isinstance(use.get("input"), str):
            piece = {"type": "input_json_delta", "partial_json": use["input"]}
            return _event("content_block_delta", {"index": index, "delta": piece})
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            head = self._open(index, "thinking")
            if isinstance(reasoning.get("text"), str):
                piece = {"type": "thinking_delta", "thinking": reasoning["text"]}
            elif isinstance(reasoning.get("signature"), str):
                piece = {"type": "signature_delta", "signature": reasoning["signature"]}
            else:
                return head
            return head + _event("content_block_delta", {"index": index, "delta": piece})
        return b""

    def _close_all(self) -> bytes:
        closing = b"".join(_event("content_block_stop", {"index": index}) for index in self.open)
        self.open.clear()
        return closing

    def _end(self, usage: Any) -> bytes:
        self.done = True
        self.usage = usage_of(usage)
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        tail = _event("message_delta", {"delta": delta, "usage": anthropic_usage_fields(usage)})
        return self._close_all() + tail + _event("message_stop", {})

    def flush(self) -> bytes:
        return b""

    def error_event(self, message: str) -> bytes:
        return anthropic_error_event(message)


def _index(body: dict[str, Any]) -> int:
    value = body.get("contentBlockIndex")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
