"""A real HTTP server on loopback playing a provider's model-list endpoints."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_KEY = "sk-upstream-good-0123456789abcdef"
MODELS = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]


@dataclass
class Upstream:
    base: str
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            upstream.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            path = self.path.split("?", 1)[0]
            bearer = self.headers.get("Authorization", "")
            if path.startswith("/redirect/"):
                # A provider (or anyone on its path) redirecting to an internal address.
                self.send_response(302)
                self.send_header("Location", upstream.base + "/v1/models")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path.startswith("/malformed/"):
                self._send(200, b"<html>not json")
            elif path.startswith("/wrong-shape/"):
                self._send(200, json.dumps({"data": [{"name": 3}]}).encode())
            elif path in ("/v1/models", "/openai/v1/models"):
                if bearer != f"Bearer {GOOD_KEY}":
                    # Like real providers: the error echoes (part of) the key. It must not leak.
                    error = {"error": {"message": f"Incorrect API key provided: {bearer}"}}
                    self._send(401, json.dumps(error).encode())
                    return
                self._send(200, json.dumps({"object": "list", "data": [{"id": m} for m in MODELS]}).encode())
            elif path == "/api/tags":
                self._send(
                    200, json.dumps({"models": [{"name": "llama3.2:latest"}, {"name": "qwen3:8b"}]}).encode()
                )
            elif path == "/openai/deployments":
                if self.headers.get("api-key") != GOOD_KEY:
                    self._send(401, b'{"error": {"code": "401"}}')
                    return
                self._send(200, json.dumps({"data": [{"id": "my-gpt4o", "model": "gpt-4o"}]}).encode())
            elif path == "/v1/models-anthropic":
                self._send(404, b"{}")
            else:
                self._send(404, b'{"error": "not found"}')

    return Handler


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Upstream(base="")))
    port = server.server_address[1]
    upstream = Upstream(base=f"http://127.0.0.1:{port}")
    server.RequestHandlerClass = _handler(upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
