"""Gemini's streamGenerateContent (`alt=sse`: one GenerateContentResponse per `data:` event) as
Anthropic stream events.

The first event opens the message (`message_start`); text parts extend a text block (thought parts
a thinking block), each `functionCall` part is a whole tool_use block (Gemini sends a call in one
piece: start, one input_json_delta, stop). The event that carries `finishReason` (Vertex sends the
final `usageMetadata` with it) closes the blocks and ends the stream with `message_delta` (stop
reason and usage) and `message_stop`. An `{"error": ...}` event becomes an `error` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from keyplane.gateway.adapters.anthropic import anthropic_error_event
from keyplane.gateway.adapters.gemini import anthropic_usage_fields, arguments_json, stop_reason, tool_use_id
from keyplane.gateway.adapters.gemini import usage_of as gemini_usage
from keyplane.gateway.settlement import Usage


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"


class AnthropicFromGemini:
    """A relay of Gemini SSE bytes into Anthropic events, metered from `usageMetadata`."""

    def __init__(self, *, model: str) -> None:
        self.model = model
        self.buffer = b""
        self.usage: Usage | None = None
        self.done = False
        self.failed: str | None = None
        self.content_events = 0
        self.started = False
        self.index = -1  # the Anthropic block being written
        self.open_kind: str | None = None  # its type while open
        self.called = False
        self.metadata: Any = None

    def feed(self, chunk: bytes) -> bytes:
        if self.failed is not None or self.done:
            return b""
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
            if data and self.failed is None and not self.done:
                out.append(self._data(data))
        return b"".join(out)

    def _data(self, data: bytes) -> bytes:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return b""
        error = payload.get("error")
        if isinstance(error, dict):
            said = str(error.get("message") or error.get("status") or "the stream failed")[:500]
            self.failed = f"The provider's stream failed: {said}"
            kind = "overloaded_error" if error.get("code") == 429 else "api_error"
            return anthropic_error_event(said, kind)
        out = [] if self.started else [self._start()]
        if isinstance(payload.get("usageMetadata"), dict):
            self.metadata = payload["usageMetadata"]
            self.usage = gemini_usage(self.metadata)
        candidates = payload.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            if isinstance(payload.get("promptFeedback"), dict) and payload["promptFeedback"].get(
                "blockReason"
            ):
                out.append(self._end("refusal"))
            return b"".join(out)
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for number, part in enumerate(parts if isinstance(parts, list) else ()):
            if isinstance(part, dict):
                out.append(self._part(part, number))
        finish = candidate.get("finishReason")
        if isinstance(finish, str):
            out.append(self._end(stop_reason(finish, called=self.called)))
        return b"".join(out)

    def _start(self) -> bytes:
        self.started = True
        message: dict[str, Any] = {
            "id": "msg_vrtx_stream",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"message": message})

    def _part(self, part: dict[str, Any], number: int) -> bytes:
        if isinstance(part.get("text"), str):
            kind = "thinking" if part.get("thought") is True else "text"
            head = self._open(kind)
            self.content_events += 1
            delta = (
                {"type": "text_delta", "text": part["text"]}
                if kind == "text"
                else {"type": "thinking_delta", "thinking": part["text"]}
            )
            return head + _event("content_block_delta", {"index": self.index, "delta": delta})
        call = part.get("functionCall")
        if not isinstance(call, dict):
            return b""
        self.called = True
        self.content_events += 1
        head = self._close()
        self.index += 1
        block = {
            "type": "tool_use",
            "id": tool_use_id(part, number),
            "name": str(call.get("name", "")),
            "input": {},
        }
        piece = {"type": "input_json_delta", "partial_json": arguments_json(part)}
        return (
            head
            + _event("content_block_start", {"index": self.index, "content_block": block})
            + _event("content_block_delta", {"index": self.index, "delta": piece})
            + _event("content_block_stop", {"index": self.index})
        )

    def _open(self, kind: str) -> bytes:
        if self.open_kind == kind:
            return b""
        head = self._close()
        self.index += 1
        self.open_kind = kind
        block: dict[str, Any] = (
            {"type": kind, "text": ""} if kind == "text" else {"type": kind, "thinking": ""}
        )
        return head + _event("content_block_start", {"index": self.index, "content_block": block})

    def _close(self) -> bytes:
        if self.open_kind is None:
            return b""
        self.open_kind = None
        return _event("content_block_stop", {"index": self.index})

    def _end(self, reason: str) -> bytes:
        self.done = True
        delta = {"stop_reason": reason, "stop_sequence": None}
        tail = _event("message_delta", {"delta": delta, "usage": anthropic_usage_fields(self.metadata)})
        return self._close() + tail + _event("message_stop", {})

    def flush(self) -> bytes:
        if not self.buffer.strip():
            self.buffer = b""
            return b""
        return self.feed(b"\n\n")  # a last event without its blank line

    def error_event(self, message: str) -> bytes:
        return anthropic_error_event(message)
