"""Pure-ASGI middleware (cheap on the hot path): request ids and the request body size cap."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.surfaces.error_shapes import error_body

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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

        if declared is None and _has_chunked_body(scope):
            # No length declared: read the body up to the cap first, so an oversized one is a
            # clean 413 here instead of a parse error deep in the framework.
            body = await _read_capped(receive, self.max_body_bytes)
            if body is None:
                await _send_error(
                    scope,
                    send,
                    request_id,
                    413,
                    "payload_too_large",
                    f"Request body exceeds {self.max_body_bytes} bytes",
                    header,
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_id)


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
