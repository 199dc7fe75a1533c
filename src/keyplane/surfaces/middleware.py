"""Pure-ASGI middleware (cheap on the hot path): request ids, the body size cap, and the body checks
that hold for every route (no lone UTF-16 surrogate in JSON text)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.surfaces.error_shapes import error_body

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE_MESSAGE = "Malformed JSON body: a string holds a lone UTF-16 surrogate escape"


class RequestContextMiddleware:
    """Give every request an id (echoed as X-Request-ID) and refuse bodies over the cap with 413."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            # PostgreSQL text cannot hold NUL: refuse it here once rather than in every route.
            await _send_error(
                scope, send, request_id, 400, "invalid_request", "NUL bytes are not allowed", header
            )
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            message = f"Request body exceeds {self.max_body_bytes} bytes"
            await _send_error(scope, send, request_id, 413, "payload_too_large", message, header)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        if (declared or 0) > 0 or (declared is None and _has_chunked_body(scope)):
            # Read the body (at most the cap) before any route: an oversized one is a clean 413
            # here instead of a parse error deep in the framework, and JSON text that no UTF-8
            # column, log or response can hold is refused once for every route.
            body = await _read_capped(receive, self.max_body_bytes)
            if body is None:
                message = f"Request body exceeds {self.max_body_bytes} bytes"
                await _send_error(scope, send, request_id, 413, "payload_too_large", message, header)
                return
            if has_lone_surrogate(body):
                await _send_error(
                    scope, send, request_id, 400, "invalid_request", LONE_SURROGATE_MESSAGE, header
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_id)


def has_lone_surrogate(body: bytes) -> bool:
    """True when JSON text escapes a UTF-16 surrogate ("\\ud800") that no pair completes: Python's
    json accepts it, but it cannot be encoded as UTF-8, so it would fail deep in a route."""
    if _SURROGATE_ESCAPE.search(body) is None:  # the cheap test, passed by every ordinary body
        return False
    # Told apart here: a lone escape from a valid pair ("\\ud83d\\ude00") or an escaped backslash.
    try:
        pending: list[Any] = [json.loads(body)]
    except (ValueError, RecursionError):  # not JSON: the route's own parsing answers it
        return False
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _has_chunked_body(scope: Scope) -> bool:
    return any(
        name == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in scope.get("headers", [])
    )


async def _read_capped(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body over once, then defers to the real channel."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(
    scope: Scope,
    send: Send,
    request_id: str,
    status: int,
    code: str,
    message: str,
    header: tuple[bytes, bytes],
) -> None:
    body: Any = error_body(scope.get("path", ""), status, code, message, request_id)
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                header,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
