"""The provider catalog."""

from __future__ import annotations

import pytest

from keyplane.errors import NotFound
from keyplane.providers.catalog import CONFIG_FIELDS, PROVIDERS, get_provider, is_known_provider


def test_required_providers_are_known() -> None:
    for name in ("openai", "azure", "anthropic", "bedrock", "vertex", "vllm", "ollama", "sgl", "replicate"):
        assert is_known_provider(name)


def test_unknown_provider_is_not_found() -> None:
    with pytest.raises(NotFound, match="Unknown provider 'nope'"):
        get_provider("nope")


def test_some_providers_are_eu_native() -> None:
    assert {"mistral", "scaleway", "ovhcloud", "ionos", "cortecs", "nebius"} <= {
        p.name for p in PROVIDERS.values() if p.eu_native
    }


def test_every_config_block_belongs_to_exactly_one_provider() -> None:
    for field, provider in CONFIG_FIELDS.items():
        assert get_provider(provider).config_field == field


def test_openai_style_providers_without_own_server_have_a_base_url() -> None:
    for info in PROVIDERS.values():
        if info.api_style == "openai" and info.config_field is None and info.name != "custom":
            assert info.default_base_url and info.default_base_url.startswith("https://")
