"""Requests the HTTP parser itself refuses (before any ASGI code runs) still get a JSON 400 in the
shape of the surface the request line named, over a real socket to a served keyplane."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from tests.harness import ServedApp
from tests.surfaces.shapes import assert_error_shape

BAD_HEADER = b"Bad Header: y\r\n"
CASES: list[tuple[str, bytes]] = [
    ("/api/v1/keys", b"GET /api/v1/keys HTTP/1.1\r\nHost: x\r\n" + BAD_HEADER + b"\r\n"),
    ("/v1/manage/api-keys", b"GET /v1/manage/api-keys HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"),
    ("/api/v1/portal/management/api-keys", b"GET /api/v1/portal/management/api-keys HTTP/9.9\r\n\r\n"),
    (
        "/api/providers/openai/keys",
        b"POST /api/providers/openai/keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ),
    (
        "/v1/chat/completions",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nabc",
    ),
    ("/api/keys", b"POST /api/keys HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("/", b"not http at all\r\n\r\n"),
]


async def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers and body (Content-Length long) of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        status_line, *header_lines = head.decode("latin-1").strip().split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (h.split(":", 1) for h in header_lines)}
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout=30)
    finally:
        writer.close()
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(("path", "raw"), CASES, ids=[p for p, _ in CASES])
async def test_the_parsers_400_is_json_in_the_surfaces_shape(
    served: ServedApp, path: str, raw: bytes
) -> None:
    status, headers, body = await _exchange(served.port, raw)
    # Judge it with the shared shape check, as if httpx had received it for this path.
    response = httpx.Response(
        status, headers=headers, content=body, request=httpx.Request("GET", f"http://x{path}")
    )
    assert_error_shape(response, 400)
    assert headers["connection"] == "close"
    if "request_id" in body.decode():
        assert headers["x-request-id"] in body.decode()
    assert orjson.loads(body)


async def test_an_upgrade_header_is_an_ordinary_request(served: ServedApp) -> None:
    """No WebSocket routes exist: an upgrade request gets the JSON answer of the route it names."""
    raw = (
        b"GET /api/v1/portal/management/balance HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\n\r\n"
    )
    status, headers, body = await _exchange(served.port, raw)
    response = httpx.Response(
        status,
        headers=headers,
        content=body,
        request=httpx.Request("GET", "http://x/api/v1/portal/management/balance"),
    )
    assert_error_shape(response, 401)
