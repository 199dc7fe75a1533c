"""uvicorn as keyplane runs it: requests the HTTP parser refuses still get the surface's JSON error.

uvicorn answers a request it cannot parse (bad header, bad framing, not HTTP) itself, before any
ASGI code, with a plain-text 400. This protocol keeps uvicorn's parser and behaviour (the
connection is closed) but writes the error in the shape of the surface the request line named,
when the parser got that far, else in the default (OpenRouter) shape. WebSocket upgrades are off:
keyplane serves none, so an `Upgrade` header is an ordinary HTTP request. uvicorn's own proxy
headers handling is off too: it would replace the socket peer with X-Forwarded-For text before
keyplane reads it, and keyplane.auth.client_address applies KEYPLANE_TRUSTED_PROXIES itself.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from keyplane.surfaces.error_shapes import error_body

MALFORMED_MESSAGE = "Malformed HTTP request"


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose own 400 is a JSON error body in the surface's shape."""

    def send_400_response(self, msg: str) -> None:
        path = unquote(bytes(getattr(self, "url", b"") or b"").split(b"?", 1)[0].decode("latin-1"))
        request_id = uuid.uuid4().hex
        body = orjson.dumps(error_body(path, 400, "bad_request", MALFORMED_MESSAGE, request_id))
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"x-request-id: " + request_id.encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def server_options() -> dict[str, Any]:
    """The uvicorn settings every keyplane server uses (`keyplane serve` and the test servers)."""
    return {"http": JsonErrorsHttpToolsProtocol, "ws": "none", "proxy_headers": False}
