"""A loopback fake of Google Vertex AI and of the OAuth token endpoint a service account names.

Auth as Google does it: `POST /token` takes the JWT-bearer grant, verifies the RS256 assertion
with PyJWT against the service account's public key (issuer = client_email, audience = Google's
token endpoint, the cloud-platform scope, iat/exp at most an hour apart) and issues `ya29.fake-N` tokens
(`expires_in` set by `FakeVertex.expires_in`); a bad signature is Google's 400 `invalid_grant`.
Model routes (`/v1/projects/{p}/locations/{r}/publishers/{pub}/models/{m}:{method}`) require
`Authorization: Bearer <an issued, unexpired token>` (401 UNAUTHENTICATED otherwise), the account's
project and region, and bodies of the documented shape (400 INVALID_ARGUMENT otherwise):
generateContent's contents/parts/roles, generationConfig keys and function declarations with
Vertex's Schema keys; rawPredict's `anthropic_version: vertex-2023-10-16` and no `model`; predict's
`instances[].content`. Streams are SSE (`data: {...}\\r\\n\\r\\n`, as Vertex sends them with
`alt=sse`). `GET /_service_account` answers the key, for a process other than the fake's (the
benchmark's).

Gemini model names pick a behaviour: `tools` calls the first function unless the last turn holds a
function response; `cached` reports cachedContentTokenCount; `thinking` reports thoughtsTokenCount;
`fail`: HTTP 500; `busy`: HTTP 429; `stream-error`: an `{"error"}` event after the first chunk.
Claude models answer as tests/fakes/anthropic.py does.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tests.fakes.anthropic import COUNTED_TOKENS, FakeAnthropic
from tests.fakes.anthropic_schema import CountTokensRequest, MessagesRequest
from tests.fakes.upstream import Receive, RecordedRequest, Scope, Send

PROJECT = "keyplane-test-project"
REGION = "europe-west4"
CLIENT_EMAIL = "gateway@keyplane-test-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
AUDIENCE = "https://oauth2.googleapis.com/token"  # what Google's assertions name, whatever the token_uri
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ANTHROPIC_VERSION = "vertex-2023-10-16"
PROMPT, CANDIDATES, CACHED, THOUGHTS = 13, 8, 4, 5
TEXT = ("Hello", " from", " Gemini.")
AFTER_TOOL = "It is sunny in Paris."
TOOL_ARGS = {"city": "Paris"}
EMBED_TOKENS = 4
BENCH_TOKEN = "ya29.bench"  # accepted forever by the standalone fake (tests/fakes/serve.py)
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
)  # Vertex's Schema object, as its REST reference lists it
SCHEMA_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})
_ROUTE = re.compile(
    r"^/v1/projects/([^/]+)/locations/([^/]+)/publishers/([^/]+)/models/([^/:]+):([A-Za-z]+)$"
)


@cache
def _private_key(label: str) -> rsa.RSAPrivateKey:
    """A test RSA key per label, made once per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def standalone(requests: list[Any]) -> FakeVertex:
    """The fake as the benchmark serves it: `BENCH_TOKEN` is valid for its direct requests."""
    return FakeVertex(requests=requests, issued={BENCH_TOKEN: float("inf")})


def service_account(token_uri: str, *, label: str = "account") -> dict[str, str]:
    """A service account's JSON key as Google issues it; `label` "other" signs with another key."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": f"fake-{label}",
        "private_key": _pem(_private_key(label)),
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Blob(_Strict):
    mimeType: str = Field(pattern=r"^[\w.+-]+/[\w.+-]+$")
    data: str

    @model_validator(mode="after")
    def _base64(self) -> _Blob:
        base64.b64decode(self.data, validate=True)
        return self


class _FunctionCall(_Strict):
    name: str = Field(min_length=1)
    args: dict[str, Any] | None = None
    id: str | None = None


class _FunctionResponse(_Strict):
    name: str = Field(min_length=1)
    response: dict[str, Any]
    id: str | None = None


class _Part(_Strict):
    text: str | None = None
    inlineData: _Blob | None = None
    fileData: dict[str, str] | None = None
    functionCall: _FunctionCall | None = None
    functionResponse: _FunctionResponse | None = None
    thought: bool | None = None
    thoughtSignature: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _Part:
        kinds = self.model_fields_set - {"thought", "thoughtSignature"}
        if len(kinds) != 1:
            raise ValueError("a part must hold exactly one of text, inlineData, fileData, functionCall, ...")
        return self


class _Content(_Strict):
    role: Literal["user", "model"] | None = None
    parts: list[_Part] = Field(min_length=1)


class _Thinking(_Strict):
    thinkingBudget: int | None = None
    includeThoughts: bool | None = None


class _Generation(_Strict):
    temperature: float | None = Field(default=None, ge=0, le=2)
    topP: float | None = Field(default=None, ge=0, le=1)
    topK: int | None = Field(default=None, ge=1)
    candidateCount: int | None = Field(default=None, ge=1, le=8)
    maxOutputTokens: int | None = Field(default=None, ge=1)
    stopSequences: list[str] | None = Field(default=None, max_length=5)
    presencePenalty: float | None = None
    frequencyPenalty: float | None = None
    seed: int | None = None
    responseMimeType: str | None = None
    responseSchema: dict[str, Any] | None = None
    thinkingConfig: _Thinking | None = None


class _Declaration(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_.-]{0,63}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _schema(self) -> _Declaration:
        if self.parameters is not None:
            _check_schema(self.parameters, "parameters")
        return self


class _Tool(_Strict):
    functionDeclarations: list[_Declaration] = Field(min_length=1)


class _CallingConfig(_Strict):
    mode: Literal["AUTO", "ANY", "NONE"]
    allowedFunctionNames: list[str] | None = None


class _ToolConfig(_Strict):
    functionCallingConfig: _CallingConfig


class GenerateContentRequest(_Strict):
    contents: list[_Content] = Field(min_length=1)
    systemInstruction: _Content | None = None
    tools: list[_Tool] | None = None
    toolConfig: _ToolConfig | None = None
    generationConfig: _Generation | None = None
    safetySettings: list[dict[str, Any]] | None = None
    labels: dict[str, str] | None = None
    cachedContent: str | None = None


class _Instance(_Strict):
    content: str
    task_type: str | None = None
    title: str | None = None


class PredictRequest(_Strict):
    instances: list[_Instance] = Field(min_length=1, max_length=250)
    parameters: dict[str, Any] | None = None


def _check_schema(schema: Any, where: str) -> None:
    """Vertex's Schema: only its own keys, upper-case types (what Google refuses with a 400)."""
    if not isinstance(schema, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(schema) - SCHEMA_KEYS
    if unknown:
        raise ValueError(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" at {where}')
    if "type" in schema and schema["type"] not in SCHEMA_TYPES:
        raise ValueError(f"{where}.type: invalid value {schema['type']!r}")
    for name, item in (schema.get("properties") or {}).items():
        _check_schema(item, f"{where}.properties[{name}]")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")


def _conversation_problem(request: GenerateContentRequest) -> str | None:
    """What Gemini checks beyond the shape: user first, a function response right after its call."""
    if request.contents[0].role not in (None, "user"):
        return "Please ensure that multiturn requests start with a user turn."
    for index, content in enumerate(request.contents):
        responses = [p.functionResponse.name for p in content.parts if p.functionResponse]
        if not responses:
            continue
        before = request.contents[index - 1] if index else None
        calls = [p.functionCall.name for p in before.parts if p.functionCall] if before else []
        if before is None or before.role != "model" or sorted(calls) != sorted(responses):
            return (
                "Please ensure that function response turn comes immediately after a function call "
                "turn, with as many responses as calls."
            )
    return None


@dataclass
class FakeVertex:
    """The ASGI app; `requests` lists model requests, `token_requests` the token grants seen (the
    form sent, and the token issued for it under `issued`)."""

    requests: list[RecordedRequest] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    expires_in: int = 600
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.requests.clear()
        self.token_requests.clear()
        self.expires_in = 600

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
        if method == "POST" and raw_path == "/token":
            await self._token(headers, body, send)
            return
        if method == "GET" and raw_path == "/_service_account":  # for a process that did not make the key
            await _json(send, 200, service_account(f"http://{headers.get('host', '')}/token"))
            return
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            payload = None
        self.requests.append(RecordedRequest(method, raw_path, query, headers, payload))
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if self.issued.get(token, 0) <= time.time():
            await _error(
                send,
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
            return
        found = _ROUTE.match(raw_path)
        if found is None or method != "POST":
            await _error(send, 404, "NOT_FOUND", f"The requested URL {raw_path} was not found.")
            return
        project, region, publisher, model, action = (unquote(g) for g in found.groups())
        if project != PROJECT or region != REGION:
            await _error(send, 403, "PERMISSION_DENIED", f"Permission denied on resource project {project}.")
        elif publisher == "google" and action in ("generateContent", "streamGenerateContent"):
            if action == "streamGenerateContent" and query != "alt=sse":
                await _error(send, 400, "INVALID_ARGUMENT", "this fake streams with alt=sse only")
            else:
                await self._generate(model, payload, action == "streamGenerateContent", send)
        elif publisher == "google" and action == "predict":
            await _predict(model, payload, send)
        elif publisher == "anthropic" and action in ("rawPredict", "streamRawPredict"):
            await _claude(model, payload, action == "streamRawPredict", send)
        else:
            await _error(send, 404, "NOT_FOUND", f"Publisher model {publisher}/{model}:{action} not found.")

    async def _token(self, headers: dict[str, str], body: bytes, send: Send) -> None:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != GRANT or "assertion" not in form:
            await _json(
                send, 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
            return
        public = _private_key("account").public_key()
        try:
            claims = jwt.decode(
                form["assertion"],
                public,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=CLIENT_EMAIL,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidSignatureError:
            await _json(send, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            return
        except jwt.PyJWTError as exc:
            await _json(send, 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"})
            return
        if SCOPE not in str(claims.get("scope", "")).split() or claims["exp"] - claims["iat"] > 3600:
            await _json(send, 400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."})
            return
        token = f"ya29.fake-{next(self._numbers)}"
        self.issued[token] = time.time() + self.expires_in
        form["issued"] = token
        await _json(send, 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    async def _generate(self, model: str, payload: Any, stream: bool, send: Send) -> None:
        try:
            request = GenerateContentRequest.model_validate(payload)
        except ValidationError as exc:
            await _error(
                send, 400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc.errors()[0]['msg']}"
            )
            return
        problem = _conversation_problem(request)
        if problem:
            await _error(send, 400, "INVALID_ARGUMENT", problem)
        elif "fail" in model:
            await _error(send, 500, "INTERNAL", "Internal error encountered.")
        elif "busy" in model:
            await _error(send, 429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later.")
        elif stream:
            await _stream(model, request, send)
        else:
            parts, finish, usage = _plan(model, request)
            candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish}
            await _json(send, 200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})


def _plan(model: str, request: GenerateContentRequest) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """(parts, finishReason, usageMetadata) for a request."""
    answered = any(p.functionResponse for p in request.contents[-1].parts)
    declarations = [d for t in request.tools or () for d in t.functionDeclarations]
    parts: list[dict[str, Any]]
    if "tools" in model and declarations and not answered:
        parts = [{"functionCall": {"name": declarations[0].name, "args": TOOL_ARGS}}]
    else:
        parts = [{"text": AFTER_TOOL if answered else "".join(TEXT)}]
    limit = request.generationConfig.maxOutputTokens if request.generationConfig else None
    candidates = min(CANDIDATES, limit or CANDIDATES)
    usage: dict[str, Any] = {"promptTokenCount": PROMPT, "candidatesTokenCount": candidates}
    total = PROMPT + candidates
    if "cached" in model:
        usage["cachedContentTokenCount"] = CACHED
    if "thinking" in model:
        usage["thoughtsTokenCount"] = THOUGHTS
        total += THOUGHTS
    usage["totalTokenCount"] = total
    return parts, "STOP", usage


async def _stream(model: str, request: GenerateContentRequest, send: Send) -> None:
    parts, finish, usage = _plan(model, request)
    headers = [(b"content-type", b"text/event-stream"), (b"x-vertex-ai-llm-request-type", b"shared")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def emit(chunk: dict[str, Any], more: bool = True) -> None:
        data = b"data: " + orjson.dumps({**chunk, "modelVersion": model}) + b"\r\n\r\n"
        await send({"type": "http.response.body", "body": data[:9], "more_body": True})  # split reads
        await send({"type": "http.response.body", "body": data[9:], "more_body": more})

    words = parts[0].get("text") == "".join(TEXT)  # the plain answer comes word by word
    pieces = [[{"text": word}] for word in TEXT] if words else [parts]
    for number, piece in enumerate(pieces):
        chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": piece}}]}
        if number == 0:
            chunk["usageMetadata"] = {"promptTokenCount": PROMPT}  # Vertex counts the prompt early
        last = number == len(pieces) - 1
        if "stream-error" in model and number == 1:  # Vertex's error event inside a stream
            error = {
                "error": {
                    "code": 429,
                    "message": "Quota exceeded mid-stream.",
                    "status": "RESOURCE_EXHAUSTED",
                }
            }
            await emit(error, more=False)
            return
        if last:
            chunk["candidates"][0]["finishReason"] = finish
            chunk["usageMetadata"] = usage
        await emit(chunk, more=not last)


async def _predict(model: str, payload: Any, send: Send) -> None:
    if "embedding" not in model:
        await _error(send, 400, "FAILED_PRECONDITION", f"{model} is not an embedding model.")
        return
    try:
        request = PredictRequest.model_validate(payload)
    except ValidationError as exc:
        await _error(
            send, 400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc.errors()[0]['msg']}"
        )
        return
    predictions = [
        {
            "embeddings": {
                "values": [0.1 * (index + 1), 0.2, float(len(instance.content))],
                "statistics": {"token_count": EMBED_TOKENS, "truncated": False},
            }
        }
        for index, instance in enumerate(request.instances)
    ]
    characters = sum(len(i.content) for i in request.instances)
    await _json(send, 200, {"predictions": predictions, "metadata": {"billableCharacterCount": characters}})


async def _claude(model: str, payload: Any, stream: bool, send: Send) -> None:
    """rawPredict: Anthropic's body without `model`, with Vertex's anthropic_version; the
    `count-tokens` model counts for the model its body names."""
    if not isinstance(payload, dict):
        await _error(send, 400, "INVALID_ARGUMENT", "The request body must be a JSON object.")
        return
    if model == "count-tokens":
        try:
            CountTokensRequest.model_validate({k: v for k, v in payload.items() if k != "anthropic_version"})
        except ValidationError as exc:
            await _error(send, 400, "INVALID_ARGUMENT", str(exc.errors()[0]["msg"]))
            return
        await _json(send, 200, {"input_tokens": COUNTED_TOKENS})
        return
    if payload.get("anthropic_version") != ANTHROPIC_VERSION:
        await _error(send, 400, "INVALID_ARGUMENT", f"anthropic_version must be {ANTHROPIC_VERSION}")
        return
    if "model" in payload:
        await _error(send, 400, "INVALID_ARGUMENT", "model: Extra inputs are not permitted")
        return
    if bool(payload.get("stream")) != stream:
        await _error(send, 400, "INVALID_ARGUMENT", "stream must be true on streamRawPredict only")
        return
    body = {name: value for name, value in payload.items() if name != "anthropic_version"}
    try:
        request = MessagesRequest.model_validate({**body, "model": model})
    except ValidationError as exc:
        await _json(
            send, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}
        )
        return
    await FakeAnthropic()._messages(request, send)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json; charset=UTF-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, kind: str, message: str) -> None:
    """Google's error shape: `{"error": {"code", "message", "status"}}`."""
    await _json(send, status, {"error": {"code": status, "message": message, "status": kind}})
