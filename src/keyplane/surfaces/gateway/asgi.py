"""The OpenAI-compatible (and Anthropic-compatible) gateway as a raw ASGI layer in front of FastAPI.

Gateway paths skip FastAPI's routing, dependency injection and pydantic entirely: bytes in, orjson,
the rules in keyplane.gateway.service, bytes out. Every other path falls through to FastAPI.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.context import AppContext
from keyplane.errors import BadRequest, KeyplaneError, PayloadTooLarge, ServiceUnavailable
from keyplane.gateway.adapters import translate
from keyplane.gateway.adapters.openai import SseRelay
from keyplane.gateway.loop import LOOP_HEADER
from keyplane.gateway.messages import check_messages_body, count_tokens
from keyplane.gateway.service import Admission, Forwarded, Gateway, check_chat_body, check_embeddings_body
from keyplane.gateway.upstream import TRANSPORT_ERRORS, UpstreamFailure
from keyplane.kernel.tags import TAGS_HEADER
from keyplane.surfaces.error_shapes import error_body
from keyplane.surfaces.gateway.anthropic_shapes import anthropic_models, client_headers

logger = logging.getLogger("keyplane.gateway")

CHAT, EMBEDDINGS, MODELS = "chat/completions", "embeddings", "models"
MESSAGES, COUNT_TOKENS = "messages", "messages/count_tokens"  # Anthropic's paths (`?beta=true` too)
ROUTES: dict[str, tuple[str, str]] = {
    "/v1/chat/completions": ("POST", CHAT),
    "/v1/embeddings": ("POST", EMBEDDINGS),
    "/v1/models": ("GET", MODELS),
    "/api/v1/chat/completions": ("POST", CHAT),
    "/api/v1/embeddings": ("POST", EMBEDDINGS),
    "/api/v1/models": ("GET", MODELS),
    "/v1/messages": ("POST", MESSAGES),
    "/v1/messages/count_tokens": ("POST", COUNT_TOKENS),
}
__all__ = ["ROUTES", "GatewayFastAPI", "GatewayHandler", "GatewayMiddleware", "SseRelay"]
JSON_HEADERS = [(b"content-type", b"application/json")]
# Set when the request named no max_tokens and the default did not fit a spend limit: the value sent.
MAX_TOKENS_LOWERED_HEADER = b"x-keyplane-max-tokens-lowered"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
LOOP_HEADER_NAME = LOOP_HEADER.lower().encode("latin-1")
TAGS_HEADER_NAME = TAGS_HEADER.lower().encode("latin-1")


def gateway_service(context: AppContext) -> Gateway:
    service = context.services.get("gateway")
    if not isinstance(service, Gateway):
        raise ServiceUnavailable("The gateway is starting up", code="gateway_not_ready")
    return service


class GatewayFastAPI(FastAPI):
    """FastAPI with the gateway paths answered first, before any middleware or routing.

    `mount_gateway` sets `gateway`; until then (and for every other path) FastAPI serves.
    """

    gateway: GatewayHandler | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.gateway
        if handler is not None and scope["type"] == "http":
            route = ROUTES.get(scope["path"])
            if route is not None:
                await handler.handle(scope, receive, send, route)
                return
        await super().__call__(scope, receive, send)


class GatewayMiddleware:
    """The same handler as an ordinary ASGI middleware, for apps that are not a GatewayFastAPI."""

    def __init__(self, app: ASGIApp, *, context: AppContext) -> None:
        self.app = app
        self.handler = GatewayHandler(context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = ROUTES.get(scope["path"])
            if route is not None:
                await self.handler.handle(scope, receive, send, route)
                return
        await self.app(scope, receive, send)


class GatewayHandler:
    """Bytes in, orjson, the gateway service, bytes out; every failure in OpenAI's error shape."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.max_body_bytes = context.settings.max_body_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send, route: tuple[str, str]) -> None:
        request_id = _request_id_for(scope)
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], id_header]
            await send(message)

        await self._handle(scope, receive, send_with_id, route)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, route: tuple[str, str]) -> None:
        method, operation = route
        try:
            if scope["method"] != method:
                raise KeyplaneError(
                    f"Method {scope['method']} not allowed; use {method}", code="method_not_allowed"
                )
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise PayloadTooLarge(f"Request body exceeds {self.max_body_bytes} bytes")
            gateway = gateway_service(self.context)
            gateway.refuse_loop(_headers(scope, LOOP_HEADER_NAME))
            key = await gateway.authenticate(_authorization(scope))
            gateway.check_client(key, _peer(scope), _header_values(scope, b"x-forwarded-for"))
            if operation == MODELS:
                data = await gateway.list_models(key)
                anthropic = _header(scope, b"anthropic-version") is not None
                await _send_json(
                    send, 200, anthropic_models(data) if anthropic else {"object": "list", "data": data}
                )
                return
            raw = await self._read_body(receive)
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("Malformed JSON body", code="invalid_json") from None
            if operation in (CHAT, EMBEDDINGS):
                body = check_chat_body(parsed) if operation == CHAT else check_embeddings_body(parsed)
                admission = await gateway.admit(
                    key, operation, body, raw, request_id=_request_id(scope), tags_header=_tags(scope)
                )
            else:  # Anthropic's Messages paths: its headers go upstream, its count reserves nothing
                body = check_messages_body(parsed, counting=operation == COUNT_TOKENS)
                headers = client_headers(scope["headers"])
                if operation == COUNT_TOKENS:
                    await _send_json(send, 200, await count_tokens(gateway, key, body, raw, headers))
                    return
                admission = await gateway.admit(
                    key,
                    operation,
                    body,
                    raw,
                    request_id=_request_id(scope),
                    client_headers=headers,
                    tags_header=_tags(scope),
                )
        except KeyplaneError as exc:
            status = 405 if exc.code == "method_not_allowed" else exc.status_code
            await _send_error(scope, send, status, exc.code, exc.message, exc.headers)
            return
        except Exception:
            logger.exception("gateway failed before forwarding")
            await _send_error(scope, send, 500, "internal_error", "Internal Server Error")
            return
        await self._relay(scope, send, gateway, admission)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("Client disconnected", code="client_disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"Request body exceeds {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _relay(self, scope: Scope, send: Send, gateway: Gateway, admission: Admission) -> None:
        """Forward (with fallback) and answer the client; the gateway settles once, whatever happens."""
        try:
            forwarded = await gateway.forward(admission)
        except UpstreamFailure as exc:
            gateway.settle_failed(admission, exc.status, exc.message)
            await _send_error(scope, send, exc.status, "upstream_error", exc.message)
            return
        except KeyplaneError as exc:  # no candidate's dialect can express the request
            gateway.settle_failed(admission, exc.status_code, exc.message)
            await _send_error(scope, send, exc.status_code, exc.code, exc.message)
            return
        except Exception:
            logger.exception("gateway failed while forwarding")
            gateway.settle_failed(admission, 500, "internal error")
            await _send_error(scope, send, 500, "internal_error", "Internal Server Error")
            return
        except BaseException:  # cancelled: the client went away
            gateway.settle_failed(admission, 499, "cancelled")
            raise
        try:
            if forwarded.response.status >= 400:
                status, code, message = gateway.settle_refusal(admission, forwarded)
                await _send_error(scope, send, status, code, message)
            elif not admission.stream:
                await gateway.settle_answer(admission, forwarded)
                body = gateway.answer_body(admission, forwarded)
                await _send_raw(send, forwarded.response.status, body, [*JSON_HEADERS, *_notes(admission)])
            else:
                await self._stream(send, gateway, admission, forwarded)
        finally:
            gateway.settle_failed(admission, 499, "request ended early", forwarded)  # no-op once settled
            forwarded.response.close()

    async def _stream(self, send: Send, gateway: Gateway, admission: Admission, forwarded: Forwarded) -> None:
        headers = [*SSE_HEADERS, *_notes(admission)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        relay = translate.stream_relay(
            forwarded.adapter,
            admission.dialect,
            model=admission.model,
            wants_usage=admission.client_wants_usage,
        )
        error: str | None = None
        client_gone = False
        try:
            async for chunk in forwarded.response.iter_chunks():
                out = relay.feed(chunk)
                if out:
                    try:
                        await send({"type": "http.response.body", "body": out, "more_body": True})
                    except OSError:
                        client_gone = True
                        break
        except TRANSPORT_ERRORS as exc:
            error = f"The provider's stream broke off: {type(exc).__name__}"
        if error is None and relay.failed is not None:
            error = relay.failed  # the provider's error event, already relayed
        elif error is None and not relay.done and not client_gone:
            error = "The provider's stream ended before it was complete"
        await gateway.settle_stream(
            admission,
            forwarded,
            relay.usage,
            content_events=relay.content_events,
            error=error,
            client_gone=client_gone,
        )
        if client_gone:
            return
        tail = relay.flush()
        if error is not None and error != relay.failed:
            tail += relay.error_event(error)
        try:
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        except OSError:
            return


def _notes(admission: Admission) -> list[tuple[bytes, bytes]]:
    """Response headers that tell the caller what the gateway changed in its request."""
    if admission.max_tokens_lowered:
        return [(MAX_TOKENS_LOWERED_HEADER, str(admission.max_tokens).encode())]
    return []


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _authorization(scope: Scope) -> str | None:
    """The Authorization header, else an Anthropic client's `x-api-key` as a bearer token."""
    found = _header(scope, b"authorization")
    if found is None:
        key = _header(scope, b"x-api-key")
        return f"Bearer {key}" if key else None
    return found


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


def _header_values(scope: Scope, name: bytes) -> Iterator[str]:
    """Lazily: only a key with allowed_ips reads X-Forwarded-For."""
    return (value.decode("latin-1") for key, value in scope["headers"] if key == name)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _tags(scope: Scope) -> str | None:
    """X-Keyplane-Tags, repeated headers joined (the gateway validates them)."""
    found = _headers(scope, TAGS_HEADER_NAME)
    return ",".join(found) if found else None


_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids without a syscall per request: a random per-process prefix and a counter.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def _request_id_for(scope: Scope) -> str:
    """The caller's X-Request-ID when it is safe to echo, else a fresh one; kept in scope state."""
    incoming = _header(scope, b"x-request-id")
    request_id = (
        incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"
    )
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def _request_id(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


async def _send_raw(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, payload: Any) -> None:
    await _send_raw(send, status, orjson.dumps(payload), JSON_HEADERS)


async def _send_error(
    scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = orjson.dumps(error_body(scope["path"], status, code, message, _request_id(scope)))
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await _send_raw(send, status, body, [*JSON_HEADERS, *extra])
