"""Anthropic Messages callers (`/v1/messages`, `/v1/messages/count_tokens`): the shape checks the
API makes first, the project's max_tokens cap, and token counting (which reserves and bills nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from keyplane.errors import BadRequest, KeyplaneError, UpstreamError
from keyplane.gateway.adapters import adapter_for
from keyplane.gateway.adapters.base import CHAT, COUNT_TOKENS, UpstreamCall
from keyplane.gateway.loop import LOOP_HEADER
from keyplane.gateway.settlement import provider_refusal
from keyplane.gateway.upstream import TRANSPORT_ERRORS, UpstreamFailure

if TYPE_CHECKING:
    from keyplane.gateway.key_cache import KeyRecord
    from keyplane.gateway.service import Gateway

ROLES = ("user", "assistant")
# A count without an Anthropic credential is estimated: about four bytes of JSON per token.
BYTES_PER_COUNTED_TOKEN = 4


class ProviderRefused(KeyplaneError):
    """A provider's 4xx relayed to the caller with its status."""

    code = "upstream_error"

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message, code=code)
        self.status_code = status


def check_messages_body(body: Any, *, counting: bool = False) -> dict[str, Any]:
    """What Messages checks before anything else: 400 with the field named."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model: Field required (a string)", code="invalid_model")
    if len(model) > 200:
        raise BadRequest("model must be at most 200 characters", code="invalid_model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages: Field required (an array)", code="invalid_messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(f"messages.{index}.role must be 'user' or 'assistant'", code="invalid_messages")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise BadRequest(
                f"messages.{index}.content must be a string or an array", code="invalid_messages"
            )
    if counting:
        return body
    value = body.get("max_tokens")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest("max_tokens: Field required (an integer, 0 or more)", code="invalid_type")
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise BadRequest("stream must be a boolean", code="invalid_type")
    return body


def cap_max_tokens(body: dict[str, Any], cap: int | None) -> tuple[int, bool]:
    """The project's max_tokens cap applied to a Messages body: (max_tokens, whether it changed)."""
    requested: int = body["max_tokens"]
    if cap is not None and requested > cap:
        body["max_tokens"] = cap
        return cap, True
    return requested, False


async def count_tokens(
    gateway: Gateway, key: KeyRecord, body: dict[str, Any], raw: bytes, client_headers: Mapping[str, str]
) -> dict[str, Any]:
    """The count of the first credential that can count (Anthropic's) and answers; where other
    credentials serve the model too, an estimate from the request's size when none of those answers."""
    candidates = await gateway.plan(key, body["model"], body, CHAT)
    last: UpstreamFailure | None = None
    for credential, upstream_model in candidates:
        adapter = adapter_for(credential.api_style, upstream_model)
        if COUNT_TOKENS not in adapter.kinds:
            continue
        payload = {**body, "model": upstream_model}
        call = UpstreamCall(
            credential,
            "messages/count_tokens",
            upstream_model,
            orjson.dumps(payload),
            payload,
            False,
            client_headers,
        )
        request = adapter.request(call)
        request.headers[LOOP_HEADER] = gateway.loop_mark
        try:
            if getattr(adapter, "needs_access_token", False):  # Claude on Vertex AI
                request.headers["Authorization"] = f"Bearer {await gateway.access_tokens.bearer(credential)}"
            response = await gateway.upstream.send(
                "POST", request.url, request.headers, request.body, guarded=credential.egress_guarded
            )
            try:
                answer = await response.read()
            except TRANSPORT_ERRORS as exc:
                raise UpstreamFailure(f"The provider's answer broke off: {type(exc).__name__}") from exc
            finally:
                response.close()
            if response.status >= 500 or response.status == 429:
                raise UpstreamFailure(f"The provider answered HTTP {response.status}")
            parsed = _json(answer)
            if response.status >= 400:
                status, code, message = provider_refusal(response.status, parsed)
                raise ProviderRefused(status, message, code)
            if not isinstance(parsed, dict) or not isinstance(parsed.get("input_tokens"), int):
                raise UpstreamFailure("The provider returned a count that is not JSON")
        except UpstreamFailure as exc:
            last = exc
            continue
        return parsed
    if last is not None and all(COUNT_TOKENS in adapter_for(c.api_style, m).kinds for c, m in candidates):
        raise UpstreamError(last.message) from None
    return {"input_tokens": max(1, len(raw) // BYTES_PER_COUNTED_TOKEN)}


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
