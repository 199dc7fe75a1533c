"""Google Vertex AI: Gemini through generateContent, Claude through rawPredict, embeddings through predict.

Both chat adapters are fed the Anthropic dialect (OpenAI callers arrive through chat_on_anthropic):
- Gemini (`publishers/google`): `{base}/v1/projects/{p}/locations/{r}/publishers/google/models/{m}
  :generateContent` or `:streamGenerateContent?alt=sse`, translated by gemini.py / gemini_stream.py;
  embeddings go to `...:predict` (`instances[].content`, answered `predictions[].embeddings`).
- Claude (`publishers/anthropic`, a model id starting with `claude`): `...:rawPredict` or
  `:streamRawPredict`, the Messages body without `model` and with `anthropic_version:
  vertex-2023-10-16`; answers and streams are Anthropic's own, read as the Anthropic adapter reads them;
  token counts go to `.../publishers/anthropic/models/count-tokens:rawPredict`, the body naming the model.
The model id (and project) are percent-encoded path segments. Every request carries a Google OAuth
access token for the credential's service account (`needs_access_token`: gateway/access_tokens.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.anthropic import AnthropicEvents
from keyplane.gateway.adapters.anthropic import usage_of as anthropic_usage
from keyplane.gateway.adapters.base import (
    ANTHROPIC,
    CHAT,
    COUNT_TOKENS,
    EMBEDDINGS,
    Dialect,
    UpstreamCall,
    UpstreamRequest,
)
from keyplane.gateway.adapters.gemini import generate_request, message_answer, usage_of
from keyplane.gateway.adapters.gemini_stream import AnthropicFromGemini
from keyplane.gateway.settlement import Usage, bounded_tokens
from keyplane.providers.eligibility import RoutableCredential

ANTHROPIC_VERSION = "vertex-2023-10-16"
COUNT_TOKENS_MODEL = "count-tokens"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "keyplane"}
STREAM_HEADERS = {**JSON_HEADERS, "Accept": "text/event-stream"}
PASSED_HEADERS = ("anthropic-beta",)  # Vertex reads the beta flags of Claude requests from headers


def is_claude(model: str) -> bool:
    """Claude on Vertex is Anthropic's publisher: its models are named `claude-...`."""
    return model.rsplit("/", 1)[-1].startswith("claude")


def model_url(credential: RoutableCredential, publisher: str, model: str, method: str) -> str:
    """`{base}/v1/projects/{p}/locations/{r}/publishers/{publisher}/models/{m}:{method}`."""
    project = quote(credential.extra.get("project_id", ""), safe="")
    region = quote(credential.extra.get("region", ""), safe="")
    base = credential.base_url.rstrip("/")
    return (
        f"{base}/v1/projects/{project}/locations/{region}/publishers/{publisher}"
        f"/models/{quote(model, safe='')}:{method}"
    )


def _headers(call: UpstreamCall) -> dict[str, str]:
    return dict(STREAM_HEADERS if call.stream else JSON_HEADERS)


class VertexGeminiAdapter:
    dialect: Dialect = ANTHROPIC
    passthrough = False
    kinds = frozenset({CHAT, EMBEDDINGS})
    needs_access_token = True

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        if call.operation == "embeddings":
            url = model_url(call.credential, "google", call.upstream_model, "predict")
            body = orjson.dumps(embed_request(call.parsed))
            return UpstreamRequest(url, dict(JSON_HEADERS), body)
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        url = model_url(call.credential, "google", call.upstream_model, method)
        return UpstreamRequest(url, _headers(call), orjson.dumps(generate_request(call.parsed)))

    def answer(self, payload: Any, *, model: str) -> Any:
        if not isinstance(payload, dict):
            return payload
        if "predictions" in payload:
            return embeddings_answer(payload, model)
        return message_answer(payload, model=model)

    def usage(self, payload: Any) -> Usage | None:
        if not isinstance(payload, dict):
            return None
        if "predictions" in payload:
            return embed_usage(payload)
        return usage_of(payload.get("usageMetadata"))

    def stream_relay(self, *, strip_usage: bool, model: str) -> AnthropicFromGemini:
        return AnthropicFromGemini(model=model)


class VertexClaudeAdapter:
    dialect: Dialect = ANTHROPIC
    passthrough = True
    kinds = frozenset({CHAT, COUNT_TOKENS})
    needs_access_token = True

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        if call.operation == "messages/count_tokens":
            # One endpoint counts for every Claude model; the body names the model.
            url = model_url(call.credential, "anthropic", COUNT_TOKENS_MODEL, "rawPredict")
            body = {**call.parsed, "model": call.upstream_model}
            return UpstreamRequest(url, dict(JSON_HEADERS), orjson.dumps(body))
        method = "streamRawPredict" if call.stream else "rawPredict"
        url = model_url(call.credential, "anthropic", call.upstream_model, method)
        body = {name: value for name, value in call.parsed.items() if name != "model"}
        body["anthropic_version"] = ANTHROPIC_VERSION
        headers = _headers(call)
        for name in PASSED_HEADERS:
            if name in call.client_headers:
                headers[name] = call.client_headers[name]
        return UpstreamRequest(url, headers, orjson.dumps(body))

    def answer(self, payload: Any, *, model: str) -> Any:
        return payload

    def usage(self, payload: Any) -> Usage | None:
        return anthropic_usage(payload.get("usage")) if isinstance(payload, dict) else None

    def stream_relay(self, *, strip_usage: bool, model: str) -> AnthropicEvents:
        return AnthropicEvents()


# ---- embeddings --------------------------------------------------------------------------------


def embed_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI embeddings body as a text-embedding model's predict body."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequest(
            "Vertex AI embeds text: `input` must be a string or a list of strings", code="invalid_input"
        )
    out: dict[str, Any] = {"instances": [{"content": text} for text in texts]}
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool) and dimensions > 0:
        out["parameters"] = {"outputDimensionality": dimensions}
    return out


def _predictions(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = payload.get("predictions")
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


def embed_usage(payload: Mapping[str, Any]) -> Usage | None:
    """The sum of `embeddings.statistics.token_count` over the predictions."""
    total = 0
    for prediction in _predictions(payload):
        embeddings = prediction.get("embeddings")
        statistics = embeddings.get("statistics") if isinstance(embeddings, dict) else None
        value = statistics.get("token_count") if isinstance(statistics, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            total += int(value)
    (prompt,), clamped = bounded_tokens(total)
    return Usage(prompt, 0, clamped=clamped)


def embeddings_answer(payload: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A predict answer as OpenAI's embeddings list."""
    data = []
    for index, prediction in enumerate(_predictions(payload)):
        embeddings = prediction.get("embeddings")
        values = embeddings.get("values") if isinstance(embeddings, dict) else None
        data.append(
            {"object": "embedding", "index": index, "embedding": values if isinstance(values, list) else []}
        )
    usage = embed_usage(payload)
    tokens = usage.prompt_tokens if usage else 0
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
