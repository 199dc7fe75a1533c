"""Amazon Bedrock's runtime API: Converse, converse-stream and InvokeModel for embeddings.

Fed the Anthropic dialect, the closest to Converse (gateway/adapters/converse.py translates; OpenAI
callers arrive through chat_on_anthropic). `POST {base}/model/{modelId}/converse` (or
`/converse-stream`, AWS event-stream framing: bedrock_stream.py), the model id percent-encoded as
one path segment so ARNs and inference profiles (`:` and `/`) stay in it. Requests are signed with
SigV4 for service `bedrock` (providers/aws_signing.py) when the credential has an access key pair,
else its `value` is sent as a Bedrock API key (a bearer token).

Embeddings go to `/model/{modelId}/invoke` in the OpenAI embeddings shape: Titan models
(`amazon.titan-embed-*`, one text per request) and Cohere models (`cohere.embed-*`); Titan reports
its tokens in the body, Cohere only in Bedrock's `X-Amzn-Bedrock-Input-Token-Count` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from keyplane.errors import BadRequest
from keyplane.gateway.adapters.base import ANTHROPIC, CHAT, EMBEDDINGS, Dialect, UpstreamCall, UpstreamRequest
from keyplane.gateway.adapters.bedrock_stream import AnthropicFromConverse
from keyplane.gateway.adapters.converse import converse_request, message_answer, usage_of
from keyplane.gateway.settlement import Usage, bounded_tokens
from keyplane.providers.aws_signing import has_access_keys, sign

INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"
COHERE_INPUT_TYPE = "search_document"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "keyplane"}
STREAM_HEADERS = {**JSON_HEADERS, "Accept": "application/vnd.amazon.eventstream"}


def model_url(base_url: str, model: str, action: str) -> str:
    """`{base}/model/{modelId}/{action}` with the id as one percent-encoded segment (ARNs included)."""
    return f"{base_url.rstrip('/')}/model/{quote(model, safe='')}/{action}"


def embed_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI embeddings body as the InvokeModel body of a Titan or Cohere embedding model."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequest(
            "Bedrock embeds text: `input` must be a string or a list of strings", code="invalid_input"
        )
    name = model.rsplit("/", 1)[-1]
    if ".titan-embed" in name or name.startswith("amazon.titan-embed"):
        if len(texts) != 1:
            raise BadRequest("Titan embedding models take one text per request", code="invalid_input")
        titan: dict[str, Any] = {"inputText": texts[0]}
        if isinstance(body.get("dimensions"), int) and "v2" in name:
            titan["dimensions"] = body["dimensions"]
        return titan
    if "cohere.embed" in name:
        return {"texts": texts, "input_type": COHERE_INPUT_TYPE, "embedding_types": ["float"]}
    raise BadRequest(
        "Bedrock embeddings are served for Titan (amazon.titan-embed-*) and Cohere (cohere.embed-*) models",
        code="unsupported_model",
    )


def embeddings_answer(payload: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A Titan or Cohere InvokeModel answer as OpenAI's embeddings list."""
    if isinstance(payload.get("embedding"), list):
        vectors: Any = [payload["embedding"]]
    else:
        embeddings = payload.get("embeddings")
        vectors = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    usage = embed_usage(payload)
    tokens = usage.prompt_tokens if usage else 0
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(vectors if isinstance(vectors, list) else [])
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def embed_usage(payload: Mapping[str, Any]) -> Usage | None:
    """Titan's `inputTextTokenCount` (Cohere's count, from its header, under the same name)."""
    count = payload.get("inputTextTokenCount")
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    (prompt,), clamped = bounded_tokens(count)
    return Usage(prompt, 0, clamped=clamped)


def _is_embedding(payload: Mapping[str, Any]) -> bool:
    return "embedding" in payload or "embeddings" in payload


class BedrockAdapter:
    dialect: Dialect = ANTHROPIC
    passthrough = False
    kinds = frozenset({CHAT, EMBEDDINGS})

    def request(self, call: UpstreamCall) -> UpstreamRequest:
        credential = call.credential
        if call.operation == "embeddings":
            url = model_url(credential.base_url, call.upstream_model, "invoke")
            body = orjson.dumps(embed_request(call.parsed, call.upstream_model))
            headers = dict(JSON_HEADERS)
        else:
            action = "converse-stream" if call.stream else "converse"
            url = model_url(credential.base_url, call.upstream_model, action)
            body = orjson.dumps(converse_request(call.parsed))
            headers = dict(STREAM_HEADERS if call.stream else JSON_HEADERS)
        if has_access_keys(credential.extra):
            sign(credential.extra, "POST", url, headers, body)
        elif credential.api_key:
            headers["Authorization"] = f"Bearer {credential.api_key}"
        return UpstreamRequest(url, headers, body)

    def answer(self, payload: Any, *, model: str) -> Any:
        if not isinstance(payload, dict):
            return payload
        if _is_embedding(payload):
            return embeddings_answer(payload, model)
        return message_answer(payload, model=model)

    def usage(self, payload: Any) -> Usage | None:
        if not isinstance(payload, dict):
            return None
        if _is_embedding(payload):
            return embed_usage(payload)
        return usage_of(payload.get("usage"))

    def with_headers(self, payload: Any, headers: Mapping[str, str]) -> Any:
        """An embeddings answer without counts (Cohere's) gets Bedrock's token count header, named
        as Titan names it in its body."""
        value = headers.get(INPUT_TOKENS_HEADER, "")
        if isinstance(payload, dict) and _is_embedding(payload) and value.isdigit():
            payload.setdefault("inputTextTokenCount", int(value))
        return payload

    def stream_relay(self, *, strip_usage: bool, model: str) -> AnthropicFromConverse:
        return AnthropicFromConverse(model=model)
