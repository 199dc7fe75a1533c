"""What the Anthropic-compatible paths read from a request and answer in Anthropic's own shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ANTHROPIC_PREFIX = b"anthropic-"
EPOCH = "1970-01-01T00:00:00Z"


def client_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The caller's `anthropic-*` headers (version, beta flags), passed on to Anthropic upstreams."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name.startswith(ANTHROPIC_PREFIX)
    }


def anthropic_models(data: list[dict[str, Any]]) -> dict[str, Any]:
    """`GET /v1/models` for an Anthropic client (it sends `anthropic-version`): its list shape."""
    models = [{"type": "model", "id": m["id"], "display_name": m["id"], "created_at": EPOCH} for m in data]
    return {
        "data": models,
        "has_more": False,
        "first_id": models[0]["id"] if models else None,
        "last_id": models[-1]["id"] if models else None,
    }
