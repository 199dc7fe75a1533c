"""A loopback fake of Cohere's v2 API that checks what the real one checks.

Every request must carry `Authorization: Bearer <key>` (401 `{"message": "invalid api token"}`
otherwise). `/v2/chat` and `/v2/embed` bodies are validated against Cohere's documented v2 shape:
unknown top-level fields, unknown roles and tool results without `tool_call_id` are a 400 with
`{"message": ...}`, as the real API answers. Streams are server-sent events, each with `event:` and
a JSON `data:` line: `message-start`, `content-start`, `content-delta`..., `content-end` or
`tool-plan-delta`, `tool-call-start`, `tool-call-delta`, `tool-call-end`, then `message-end` with
the finish reason and usage (`billed_units` and `tokens`).

The model name picks a behaviour:
- `command-tools`: calls the first tool unless the last message is a tool result
- `command-fail`: HTTP 500; `command-busy`: HTTP 429
- anything else: a text answer
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from tests.fakes.upstream import Receive, RecordedRequest, Scope, Send

API_KEY = "co-upstream-secret"
BILLED_INPUT, BILLED_OUTPUT = 9, 6  # what Cohere charges for
TEMPLATE_TOKENS = 200  # `tokens.input_tokens` also counts Cohere's prompt template
EMBED_BILLED = 4
TEXT = ("Hello", " from", " Cohere.")
TOOL_ARGUMENTS = '{"city": "Paris"}'
AFTER_TOOL = "It is sunny in Paris."
MODELS = ("command-a-03-2025", "command-r7b-12-2024", "embed-v4.0")
RERANK_MODEL = "rerank-v3.5"  # listed by /v1/models, served by no endpoint keyplane routes
OUTPUT_DIMENSIONS = (256, 512, 1024, 1536)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Function(_Strict):
    name: str
    arguments: str


class _ToolCall(_Strict):
    id: str
    type: Literal["function"]
    function: _Function


class _Part(_Strict):
    type: Literal["text", "image_url", "document"]
    text: str | None = None
    image_url: dict[str, Any] | None = None


class _Message(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_plan: str | None = None
    tool_call_id: str | None = None


class _ToolFunction(_Strict):
    name: str
    description: str | None = None
    parameters: dict[str, Any]


class _Tool(_Strict):
    type: Literal["function"]
    function: _ToolFunction


class ChatRequest(_Strict):
    model: str
    messages: list[_Message]
    stream: bool = False
    tools: list[_Tool] | None = None
    documents: list[Any] | None = None
    citation_options: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    safety_mode: Literal["CONTEXTUAL", "STRICT", "OFF"] | None = None
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    k: int | None = None
    p: float | None = None
    logprobs: bool | None = None
    tool_choice: Literal["REQUIRED", "NONE"] | None = None
    strict_tools: bool | None = None
    thinking: dict[str, Any] | None = None


class EmbedRequest(_Strict):
    model: str
    input_type: Literal["search_document", "search_query", "classification", "clustering", "image"]
    texts: list[str] | None = None
    images: list[str] | None = None
    inputs: list[Any] | None = None
    embedding_types: list[Literal["float", "int8", "uint8", "binary", "ubinary", "base64"]] | None = None
    output_dimension: int | None = None
    max_tokens: int | None = None
    truncate: Literal["NONE", "START", "END"] | None = None


def _problems(request: ChatRequest) -> str | None:
    for message in request.messages:
        if message.role == "tool" and not message.tool_call_id:
            return "invalid request: tool messages must have a tool_call_id"
    return None


@dataclass
class FakeCohere:
    """The ASGI app; `requests` lists what it received (path, query, headers, JSON body)."""

    api_key: str = API_KEY
    requests: list[RecordedRequest] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None
        query = scope.get("query_string", b"").decode()
        self.requests.append(RecordedRequest(method, path, query, headers, payload))
        if headers.get("authorization") != f"Bearer {self.api_key}":
            await _json(send, 401, {"id": "err", "message": "invalid api token"})
        elif method == "GET" and path == "/v1/models":
            models = [{"name": m, "endpoints": ["embed"] if "embed" in m else ["chat"]} for m in MODELS]
            models.append({"name": RERANK_MODEL, "endpoints": ["rerank"]})
            await _json(send, 200, {"models": models, "next_page_token": None})
        elif method == "POST" and path == "/v2/chat":
            try:
                chat = ChatRequest.model_validate(payload)
            except ValidationError as exc:
                await _json(send, 400, {"id": "err", "message": f"invalid request: {exc.errors()[0]['msg']}"})
                return
            problem = _problems(chat)
            if problem:
                await _json(send, 400, {"id": "err", "message": problem})
            else:
                await self._chat(chat, send)
        elif method == "POST" and path == "/v2/embed":
            try:
                embed = EmbedRequest.model_validate(payload)
            except ValidationError as exc:
                await _json(send, 400, {"id": "err", "message": f"invalid request: {exc.errors()[0]['msg']}"})
                return
            texts = embed.texts or []
            size = embed.output_dimension or 3
            if embed.output_dimension is not None and size not in OUTPUT_DIMENSIONS:
                await _json(send, 400, {"id": "err", "message": f"invalid output_dimension {size}"})
                return
            meta = {
                "api_version": {"version": "2"},
                "billed_units": {"input_tokens": EMBED_BILLED * len(texts)},
            }
            if embed.output_dimension is None:
                vectors = [[0.1 * (i + 1), 0.2, 0.3] for i in range(len(texts))]
            else:
                vectors = [[0.1 * (i + 1)] + [0.2] * (size - 1) for i in range(len(texts))]
            answer = {
                "id": "embed-fake",
                "embeddings": {"float": vectors},
                "texts": texts,
                "meta": meta,
                "response_type": "embeddings_by_type",
            }
            await _json(send, 200, answer)
        else:
            await _json(send, 404, {"id": "err", "message": f"no route {method} {path}"})

    async def _chat(self, request: ChatRequest, send: Send) -> None:
        if request.model == "command-fail":
            await _json(send, 500, {"id": "err", "message": "internal server error"})
            return
        if request.model == "command-busy":
            await _json(send, 429, {"id": "err", "message": "too many requests"})
            return
        answered = request.messages[-1].role == "tool"
        calls_tool = request.model == "command-tools" and bool(request.tools) and not answered
        output = BILLED_OUTPUT if request.max_tokens is None else min(BILLED_OUTPUT, request.max_tokens)
        usage = {
            "billed_units": {"input_tokens": BILLED_INPUT, "output_tokens": output},
            "tokens": {"input_tokens": BILLED_INPUT + TEMPLATE_TOKENS, "output_tokens": output + 2},
        }
        message: dict[str, Any] = {"role": "assistant"}
        if calls_tool:
            assert request.tools is not None
            name = request.tools[0].function.name
            message["tool_plan"] = "I will look up the weather."
            message["tool_calls"] = [
                {
                    "id": "call_fake01",
                    "type": "function",
                    "function": {"name": name, "arguments": TOOL_ARGUMENTS},
                }
            ]
            finish = "TOOL_CALL"
        else:
            text = AFTER_TOOL if answered else "".join(TEXT)
            message["content"] = [{"type": "text", "text": text}]
            finish = "COMPLETE"
        if not request.stream:
            await _json(
                send, 200, {"id": "fake-chat-id", "message": message, "finish_reason": finish, "usage": usage}
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        start = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
        await _event(send, {"id": "fake-chat-id", "type": "message-start", "delta": {"message": start}})
        if calls_tool:
            call = message["tool_calls"][0]
            plan = {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": message["tool_plan"]}}}
            await _event(send, plan)
            opening = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            await _event(
                send, {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": opening}}}
            )
            for piece in (TOOL_ARGUMENTS[:9], TOOL_ARGUMENTS[9:]):
                delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
                await _event(send, {"type": "tool-call-delta", "index": 0, "delta": delta})
            await _event(send, {"type": "tool-call-end", "index": 0})
        else:
            opening = {"message": {"content": {"type": "text", "text": ""}}}
            await _event(send, {"type": "content-start", "index": 0, "delta": opening})
            for word in TEXT if not answered else (AFTER_TOOL,):
                delta = {"message": {"content": {"text": word}}}
                await _event(send, {"type": "content-delta", "index": 0, "delta": delta})
            await _event(send, {"type": "content-end", "index": 0})
        end = {"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}}
        await _event(send, end, more=False)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _event(send: Send, payload: dict[str, Any], *, more: bool = True) -> None:
    frame = b"event: " + str(payload["type"]).encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
    await send({"type": "http.response.body", "body": frame, "more_body": more})
