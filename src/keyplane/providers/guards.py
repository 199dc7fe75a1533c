"""Write-time checks of where a credential leads: its URLs, regions and Azure deployment names.

The egress guard (keyplane.net.egress) judges every URL a tenant sets; the operator org's and the
platform's are trusted. Names that become an Azure URL path segment must be plain segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from keyplane.errors import BadRequest
from keyplane.net.egress import check_url, split_url
from keyplane.net.paths import is_safe_segment
from keyplane.providers.catalog import ProviderInfo
from keyplane.providers.eligibility import REGION, WILDCARD
from keyplane.providers.policy import OwnerRules

# The config fields that hold a base URL the gateway and discovery connect to.
URL_FIELDS: dict[str, str] = {
    "vllm_key_config": "url",
    "sgl_key_config": "url",
    "ollama_key_config": "url",
    "azure_key_config": "endpoint",
}
REGION_FIELDS = ("vertex_key_config", "bedrock_key_config")


def _plain(config: Mapping[str, Any], field: str, name: str) -> str | None:
    block = config.get(field)
    stored = block.get(name) if isinstance(block, Mapping) else None
    if isinstance(stored, Mapping) and stored.get("kind") == "plain":
        return str(stored.get("value", ""))
    return None


async def check_targets(info: ProviderInfo, config: Mapping[str, Any], rules: OwnerRules) -> None:
    """http(s) URLs for everyone; for tenants, only addresses the egress guard lets through."""
    name = URL_FIELDS.get(info.config_field or "")
    if name is not None:
        label = f"{info.config_field}.{name}"
        url = _plain(config, info.config_field or "", name)
        if url is not None:
            split_url(url, field=label)
            if not rules.trusted:
                await check_url(url, rules.egress, field=label)
        elif not rules.trusted and info.name == "ollama":
            # The default (localhost) is the server's own host: meaningful to the operator only.
            raise BadRequest(f"{label} is required for provider 'ollama'")
    if info.config_field in REGION_FIELDS:
        region = _plain(config, info.config_field or "", "region")
        if region is not None and not REGION.match(region):
            raise BadRequest(f"{info.config_field}.region must be a region name such as eu-west-1")


def check_deployment_names(info: ProviderInfo, models: Iterable[str], aliases: Mapping[str, str]) -> None:
    """Azure sends the model (or alias target) as the deployment segment of the URL path."""
    if info.api_style != "azure":
        return
    for name in [*models, *aliases.values()]:
        if name != WILDCARD and not is_safe_segment(name):
            raise BadRequest(
                f"'{name[:200]}' cannot be an Azure deployment name: no '/', '\\' or '..'",
                code="invalid_model",
            )
