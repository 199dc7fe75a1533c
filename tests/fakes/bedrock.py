"""A loopback fake of Amazon Bedrock's runtime (and its ListFoundationModels) that checks what AWS checks.

Auth as AWS does it: a SigV4 `Authorization` header is parsed, its access key, scope (region,
service `bedrock`), date skew and session token checked, and the signature recomputed with
botocore over the request as it arrived (raw path, the signed headers, the body); any difference
is a 403 `InvalidSignatureException`. `Authorization: Bearer <API_KEY>` (a Bedrock API key) is
accepted too. Converse bodies are validated against the documented shape (one member per content
block, roles alternating from `user`, `toolConfig` present when tool blocks are): a 400
`ValidationException` with `{"message": ...}` otherwise. converse-stream answers are real AWS
event-stream frames (prelude, headers, payload, both CRC32s), events padded with `p` as AWS pads them.

The model id picks a behaviour:
- contains `tools`: calls the first tool unless the last message carries a tool result
- contains `fail`: HTTP 500; contains `busy`: HTTP 429 ThrottlingException
- contains `throttled-stream`: a stream that ends with a throttlingException frame
- anything else: a text answer; any `cachePoint` in the request reports cache reads and writes
Embeddings: `amazon.titan-embed-*` and `cohere.embed-*` through `/model/{id}/invoke`.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tests.fakes.upstream import Receive, RecordedRequest, Scope, Send

ACCESS_KEY = "AKIAFAKEBEDROCK00001"
SECRET_KEY = "fake/Secret+Key/for/the/loopback/bedrock00"
SESSION_TOKEN = "FwoGZXIvYXdzEFAKESESSIONTOKEN"
REGION = "eu-central-1"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1mYWtl"  # a Bedrock API key, sent as a bearer token
INPUT, OUTPUT, CACHE_READ, CACHE_WRITE = 11, 7, 5, 3
TEXT = ("Hello", " from", " Bedrock.")
TOOL_INPUT = '{"city": "Paris"}'
AFTER_TOOL = "It is sunny in Paris."
EMBED_TOKENS = 6
MODELS = (
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "amazon.titan-embed-text-v2:0",
    "cohere.embed-english-v3",
)
MAX_SKEW_SECONDS = 300
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Bytes(_Strict):
    bytes: str

    @model_validator(mode="after")
    def _base64(self) -> _Bytes:
        base64.b64decode(self.bytes, validate=True)
        return self


class _Image(_Strict):
    format: Literal["png", "jpeg", "gif", "webp"]
    source: _Bytes


class _Document(_Strict):
    format: Literal["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"]
    name: str
    source: _Bytes


class _ToolUse(_Strict):
    toolUseId: str = Field(pattern=r"^[a-zA-Z0-9_-]+$")
    name: str = Field(min_length=1, max_length=64)
    input: Any


class _ResultPart(_Strict):
    text: str | None = None
    json_: Any = Field(default=None, alias="json")
    image: _Image | None = None
    document: _Document | None = None


class _ToolResult(_Strict):
    toolUseId: str = Field(pattern=r"^[a-zA-Z0-9_-]+$")
    content: list[_ResultPart]
    status: Literal["success", "error"] | None = None


class _CachePoint(_Strict):
    type: Literal["default"]


class _Block(_Strict):
    text: str | None = None
    image: _Image | None = None
    document: _Document | None = None
    toolUse: _ToolUse | None = None
    toolResult: _ToolResult | None = None
    reasoningContent: dict[str, Any] | None = None
    cachePoint: _CachePoint | None = None

    @model_validator(mode="after")
    def _one_member(self) -> _Block:
        if len(self.model_fields_set) != 1:
            raise ValueError("A content block must have exactly one member")
        return self


class _Message(_Strict):
    role: Literal["user", "assistant"]
    content: list[_Block] = Field(min_length=1)


class _SystemBlock(_Strict):
    text: str | None = None
    cachePoint: _CachePoint | None = None


class _Inference(_Strict):
    maxTokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=1)
    topP: float | None = Field(default=None, ge=0, le=1)
    stopSequences: list[str] | None = Field(default=None, max_length=4)


class _ToolSpec(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    inputSchema: dict[Literal["json"], dict[str, Any]]


class _Tool(_Strict):
    toolSpec: _ToolSpec | None = None
    cachePoint: _CachePoint | None = None


class _ToolConfig(_Strict):
    tools: list[_Tool] = Field(min_length=1)
    toolChoice: dict[Literal["auto", "any", "tool"], dict[str, Any]] | None = None


class ConverseRequest(_Strict):
    messages: list[_Message]
    system: list[_SystemBlock] | None = None
    inferenceConfig: _Inference | None = None
    toolConfig: _ToolConfig | None = None
    additionalModelRequestFields: dict[str, Any] | None = None
    additionalModelResponseFieldPaths: list[str] | None = None
    guardrailConfig: dict[str, Any] | None = None
    requestMetadata: dict[str, str] | None = None
    performanceConfig: dict[str, Any] | None = None


class TitanEmbed(_Strict):
    inputText: str
    dimensions: Literal[256, 512, 1024] | None = None
    normalize: bool | None = None
    embeddingTypes: list[str] | None = None


class CohereEmbed(_Strict):
    texts: list[str] = Field(min_length=1, max_length=96)
    input_type: Literal["search_document", "search_query", "classification", "clustering"]
    embedding_types: list[Literal["float", "int8", "uint8", "binary", "ubinary"]] | None = None
    truncate: Literal["NONE", "START", "END"] | None = None


def _conversation_problem(request: ConverseRequest) -> str | None:
    """The checks Bedrock makes beyond the shape."""
    if not request.messages or request.messages[0].role != "user":
        return "A conversation must start with a user message."
    for before, after in zip(request.messages, request.messages[1:], strict=False):
        if before.role == after.role:
            return "A conversation must alternate between user and assistant roles."
    uses_tools = any(b.toolUse or b.toolResult for m in request.messages for b in m.content)
    if uses_tools and request.toolConfig is None:
        return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
    return None


def _has_cache_point(request: ConverseRequest) -> bool:
    blocks = [b.cachePoint for m in request.messages for b in m.content]
    blocks += [b.cachePoint for b in request.system or ()]
    blocks += [t.cachePoint for t in (request.toolConfig.tools if request.toolConfig else ())]
    return any(blocks)


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(kind: str, body: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, orjson.dumps({**body, "p": "abcdefghijklmnopqrstuvwxyzABCDEF"[: 4 + len(kind)]}))


def signature_problem(
    method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes
) -> str | None:
    """Why AWS would refuse this request's SigV4 signature, or None when it holds."""
    found = _AUTH.match(headers.get("authorization", ""))
    if found is None:
        return "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."
    access, _day, region, service, signed, signature = found.groups()
    if access != ACCESS_KEY:
        return "The security token included in the request is invalid."
    if region != REGION or service != "bedrock":
        return f"Credential should be scoped to a valid region and service 'bedrock', not {region}/{service}."
    stamp = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "Missing or malformed X-Amz-Date."
    if abs(time.time() - when.timestamp()) > MAX_SKEW_SECONDS:
        return "Signature expired: the request time is too far from the server's."
    token = headers.get("x-amz-security-token")
    if token is not None and token != SESSION_TOKEN:
        return "The security token included in the request is invalid."
    names = signed.split(";")
    if "host" not in names or any(name not in headers for name in names):
        return "The request signature we calculated does not match the signature you provided."
    url = f"http://{headers['host']}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={n: headers[n] for n in names})
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "bedrock", REGION)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if expected != signature:
        return "The request signature we calculated does not match the signature you provided."
    return None


@dataclass
class FakeBedrock:
    """The ASGI app; `requests` lists what it received (raw path, query, headers, JSON body)."""

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
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        method, query = scope["method"], scope.get("query_string", b"").decode()
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None
        self.requests.append(RecordedRequest(method, raw_path, query, headers, payload))
        if headers.get("authorization", "").startswith("Bearer "):
            if headers["authorization"] != f"Bearer {API_KEY}":
                await _error(send, 403, "UnrecognizedClientException", "Invalid API Key format.")
                return
        else:
            problem = signature_problem(method, raw_path, query, headers, body)
            if problem is not None:
                await _error(send, 403, "InvalidSignatureException", problem)
                return
        parts = raw_path.split("/")
        if method == "GET" and raw_path == "/foundation-models":
            summaries = [
                {"modelId": m, "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{m}"} for m in MODELS
            ]
            await _json(send, 200, {"modelSummaries": summaries})
        elif method == "POST" and len(parts) == 4 and parts[1] == "model":
            await self._model(unquote(parts[2]), parts[3], payload, send)
        else:
            await _error(send, 404, "UnknownOperationException", f"no route {method} {raw_path}")

    async def _model(self, model: str, action: str, payload: Any, send: Send) -> None:
        if action == "invoke":
            await _embed(model, payload, send)
            return
        if action not in ("converse", "converse-stream"):
            await _error(send, 404, "UnknownOperationException", f"no action {action}")
            return
        try:
            request = ConverseRequest.model_validate(payload)
        except ValidationError as exc:
            await _error(
                send, 400, "ValidationException", f"Malformed input request: {exc.errors()[0]['msg']}"
            )
            return
        problem = _conversation_problem(request)
        if problem:
            await _error(send, 400, "ValidationException", problem)
        elif "fail" in model:
            await _error(send, 500, "InternalServerException", "The server encountered an internal error.")
        elif "busy" in model:
            await _error(
                send, 429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        elif action == "converse":
            await _json(send, 200, _answer(model, request))
        else:
            await _stream(model, request, send)


def _plan(model: str, request: ConverseRequest) -> tuple[str, dict[str, Any] | None, dict[str, int]]:
    """(text, tool call or None, usage) for a request."""
    last = request.messages[-1].content
    answered = any(b.toolResult for b in last)
    tool = None
    if "tools" in model and request.toolConfig and not answered:
        spec = next(t.toolSpec for t in request.toolConfig.tools if t.toolSpec)
        tool = {"toolUseId": "tooluse_fake01", "name": spec.name, "input": orjson.loads(TOOL_INPUT)}
    text = "Let me check." if tool else (AFTER_TOOL if answered else "".join(TEXT))
    limit = request.inferenceConfig.maxTokens if request.inferenceConfig else None
    usage = {"inputTokens": INPUT, "outputTokens": min(OUTPUT, limit or OUTPUT)}
    if _has_cache_point(request):
        usage |= {"cacheReadInputTokens": CACHE_READ, "cacheWriteInputTokens": CACHE_WRITE}
    usage["totalTokens"] = sum(usage.values())
    return text, tool, usage


def _answer(model: str, request: ConverseRequest) -> dict[str, Any]:
    text, tool, usage = _plan(model, request)
    content: list[dict[str, Any]] = [{"text": text}]
    if tool:
        content.append({"toolUse": tool})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use" if tool else "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 42},
    }


async def _stream(model: str, request: ConverseRequest, send: Send) -> None:
    text, tool, usage = _plan(model, request)
    headers = [(b"content-type", b"application/vnd.amazon.eventstream"), (b"x-amzn-requestid", b"fake-req")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def emit(data: bytes, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": more})

    await emit(event("messageStart", {"role": "assistant"}))
    words = (text,) if tool or text == AFTER_TOOL else TEXT
    for word in words:
        whole = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}})
        await emit(whole[:7])  # frames split across reads, as TCP delivers them
        await emit(whole[7:])
    if "throttled-stream" in model:
        error = {
            ":exception-type": "throttlingException",
            ":content-type": "application/json",
            ":message-type": "exception",
        }
        await emit(frame(error, orjson.dumps({"message": "Too many tokens, please wait."})), more=False)
        return
    await emit(event("contentBlockStop", {"contentBlockIndex": 0}))
    if tool:
        start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
        await emit(event("contentBlockStart", {"contentBlockIndex": 1, "start": start}))
        for piece in (TOOL_INPUT[:8], TOOL_INPUT[8:]):
            delta = {"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}}
            await emit(event("contentBlockDelta", delta))
        await emit(event("contentBlockStop", {"contentBlockIndex": 1}))
    await emit(event("messageStop", {"stopReason": "tool_use" if tool else "end_turn"}))
    await emit(event("metadata", {"usage": usage, "metrics": {"latencyMs": 42}}), more=False)


async def _embed(model: str, payload: Any, send: Send) -> None:
    try:
        if model.startswith("amazon.titan-embed"):
            titan = TitanEmbed.model_validate(payload)
            vector = [0.5, 0.25, float(len(titan.inputText))]
            await _json(send, 200, {"embedding": vector, "inputTextTokenCount": EMBED_TOKENS})
        elif model.startswith("cohere.embed"):
            cohere = CohereEmbed.model_validate(payload)
            vectors = [[0.1 * (i + 1), 0.2] for i in range(len(cohere.texts))]
            answer = {
                "embeddings": {"float": vectors},
                "id": "fake",
                "response_type": "embeddings_by_type",
                "texts": cohere.texts,
            }
            count = str(EMBED_TOKENS * len(cohere.texts)).encode()
            await _json(send, 200, answer, [(b"x-amzn-bedrock-input-token-count", count)])
        else:
            await _error(
                send, 400, "ValidationException", f"The provided model identifier is invalid: {model}"
            )
    except ValidationError as exc:
        await _error(send, 400, "ValidationException", f"Malformed input request: {exc.errors()[0]['msg']}")


async def _json(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, kind: str, message: str) -> None:
    """AWS's error shape: `{"message"}` and the error type in `x-amzn-ErrorType`."""
    await _json(
        send,
        status,
        {"message": message},
        [(b"x-amzn-errortype", f"{kind}:http://internal.amazon.com/".encode())],
    )
