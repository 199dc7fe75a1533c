"""Upstream wire protocols, one module each, behind gateway/adapters/base.py's small interface.

`ADAPTERS` maps a provider's API style (providers/catalog.py) to its adapter; a style without one
is answered 501 by routing. Where one style serves models of several wire protocols (Vertex AI:
Gemini and Claude), `adapter_for` picks by the upstream model id.
"""

from __future__ import annotations

from collections.abc import Mapping

from keyplane.gateway.adapters.anthropic import AnthropicAdapter
from keyplane.gateway.adapters.base import CHAT, COUNT_TOKENS, EMBEDDINGS, Adapter
from keyplane.gateway.adapters.bedrock import BedrockAdapter
from keyplane.gateway.adapters.cohere import CohereAdapter
from keyplane.gateway.adapters.openai import OpenAIAdapter
from keyplane.gateway.adapters.vertex import VertexClaudeAdapter, VertexGeminiAdapter, is_claude

_OPENAI = OpenAIAdapter()
ADAPTERS: Mapping[str, Adapter] = {
    "openai": _OPENAI,
    "azure": _OPENAI,
    "ollama": _OPENAI,
    "anthropic": AnthropicAdapter(),
    "cohere": CohereAdapter(),
    "bedrock": BedrockAdapter(),
    "vertex": VertexGeminiAdapter(),
}
VERTEX_CLAUDE: Adapter = VertexClaudeAdapter()
# The API styles that can serve each kind of request, for routing.
STYLES_FOR: Mapping[str, frozenset[str]] = {
    kind: frozenset(style for style, adapter in ADAPTERS.items() if kind in adapter.kinds)
    for kind in (CHAT, EMBEDDINGS, COUNT_TOKENS)
}
CHAT_STYLES = STYLES_FOR[CHAT]


def adapter_for(style: str, upstream_model: str) -> Adapter:
    """The adapter that speaks to this model of a credential of this API style."""
    if style == "vertex" and is_claude(upstream_model):
        return VERTEX_CLAUDE
    return ADAPTERS[style]
