"""The one small interface every upstream wire protocol implements, and the values it passes around.

A *dialect* is the JSON shape of a chat request, its answer and its stream: "openai" (chat
completions) or "anthropic" (Messages). Callers speak one (the path they call decides), each adapter
is fed one and answers in it; gateway/adapters/translate.py converts between the two when they
differ. An adapter whose upstream speaks neither (Bedrock's Converse, Cohere's v2 chat) encodes its
dialect to the wire in `request` and decodes back in `answer` and `stream_decoder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from keyplane.gateway.settlement import Usage
from keyplane.providers.eligibility import RoutableCredential

Dialect = Literal["openai", "anthropic"]
OPENAI: Dialect = "openai"
ANTHROPIC: Dialect = "anthropic"

# What a caller asks for, independent of the dialect it asks in.
CHAT, EMBEDDINGS, COUNT_TOKENS = "chat", "embeddings", "count_tokens"
# The gateway's operation names (the caller's path) and what each one is.
OPERATION_KINDS: Mapping[str, str] = {
    "chat/completions": CHAT,
    "embeddings": EMBEDDINGS,
    "messages": CHAT,
    "messages/count_tokens": COUNT_TOKENS,
}
OPERATION_DIALECTS: Mapping[str, Dialect] = {
    "chat/completions": OPENAI,
    "embeddings": OPENAI,
    "messages": ANTHROPIC,
    "messages/count_tokens": ANTHROPIC,
}
NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class UpstreamCall:
    """What to send: `body` is the request in the adapter's dialect, ready to send as it is when the
    adapter speaks that dialect on the wire; `parsed` is the same request as an object."""

    credential: RoutableCredential
    operation: str
    upstream_model: str
    body: bytes
    parsed: Mapping[str, Any]
    stream: bool
    client_headers: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes


class StreamRelay(Protocol):
    """Upstream stream bytes in, the caller's stream bytes out, the usage and the end noticed on the way.

    `done`: the upstream said the stream is complete; `failed`: it sent an error event (already
    relayed to the caller); `content_events`: a count for estimating output when no usage came.
    """

    @property
    def usage(self) -> Usage | None: ...

    @property
    def done(self) -> bool: ...

    @property
    def failed(self) -> str | None: ...

    @property
    def content_events(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def error_event(self, message: str) -> bytes: ...


class Adapter(Protocol):
    """One upstream wire protocol: build the request, read the answer, read the stream, read usage."""

    dialect: Dialect
    kinds: frozenset[str]  # CHAT, EMBEDDINGS, COUNT_TOKENS: what it can serve
    passthrough: bool  # its wire format is its dialect: answers and streams are relayed as they come

    def request(self, call: UpstreamCall) -> UpstreamRequest: ...

    def answer(self, payload: Any, *, model: str) -> Any:
        """The upstream's JSON answer in the adapter's dialect, naming the caller's `model` where it
        is rebuilt (identity when the wire is the dialect)."""
        ...

    def usage(self, payload: Any) -> Usage | None:
        """Token counts from an answer in the adapter's dialect."""
        ...

    def stream_relay(self, *, strip_usage: bool, model: str) -> StreamRelay:
        """A relay of the upstream's stream that keeps it in the adapter's dialect and meters it."""
        ...


def fed_dialect(adapter: Adapter, operation: str) -> Dialect:
    """The dialect a request reaches `adapter` in: chat in the adapter's own, embeddings (one shape,
    OpenAI's) as the caller sent them, for the adapter to re-shape itself."""
    return adapter.dialect if OPERATION_KINDS[operation] == CHAT else OPERATION_DIALECTS[operation]


def count(value: Any) -> int:
    """A token count from untrusted JSON: a non-negative int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
