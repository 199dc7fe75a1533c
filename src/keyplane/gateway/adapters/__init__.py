"""Upstream wire protocols, one module each, behind gateway/adapters/base.py's small interface.

`ADAPTERS` maps a provider's API style (providers/catalog.py) to its adapter; a style without one
is answered 501 by routing.
"""

from __future__ import annotations

from collections.abc import Mapping

from keyplane.gateway.adapters.anthropic import AnthropicAdapter
from keyplane.gateway.adapters.base import CHAT, COUNT_TOKENS, EMBEDDINGS, Adapter
from keyplane.gateway.adapters.bedrock import BedrockAdapter
from keyplane.gateway.adapters.cohere import CohereAdapter
from keyplane.gateway.adapters.openai import OpenAIAdapter

_OPENAI = OpenAIAdapter()
ADAPTERS: Mapping[str, Adapter] = {
    "openai": _OPENAI,
    "azure": _OPENAI,
    "ollama": _OPENAI,
    "anthropic": AnthropicAdapter(),
    "cohere": CohereAdapter(),
    "bedrock": BedrockAdapter(),
}
# The API styles that can serve each kind of request, for routing.
STYLES_FOR: Mapping[str, frozenset[str]] = {
    kind: frozenset(style for style, adapter in ADAPTERS.items() if kind in adapter.kinds)
    for kind in (CHAT, EMBEDDINGS, COUNT_TOKENS)
}
CHAT_STYLES = STYLES_FOR[CHAT]
