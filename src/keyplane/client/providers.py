"""Provider calls: the catalog and base-URL settings (/api/v1/providers) and the credentials
(Bifrost's /api/providers/{provider}/keys)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from keyplane.client.calls import Call, path, reader, whole
from keyplane.client.types import Credential, CredentialChanges, Provider


def config_field(provider: str) -> str:
    """The provider's own block of the key object: `azure_key_config`, `vllm_key_config`, ..."""
    return f"{provider}_key_config"


def list_providers() -> Call[list[Provider]]:
    """Every provider keyplane can route to, with its effective base URL."""
    return Call("GET", "/api/v1/providers", reader(list[Provider]))


def get_provider(provider: str) -> Call[Provider]:
    """One provider of the catalog."""
    return Call("GET", path("/api/v1/providers/{}", provider), reader(Provider))


def set_provider_base_url(provider: str, base_url: str | None) -> Call[Provider]:
    """Override the provider's base URL for every org (operator admin); None restores the default."""
    url = path("/api/v1/providers/{}/settings", provider)
    return Call("PUT", url, reader(Provider), json={"base_url": base_url})


def list_credentials(provider: str | None = None) -> Call[list[Credential]]:
    """The credentials the key may see, of one provider or of all."""
    if provider is None:
        return Call("GET", "/api/keys", whole(list[Credential]))
    url = path("/api/providers/{}/keys", provider)
    return Call("GET", url, lambda body: list(body["keys"]))


def get_credential(provider: str, key_id: str) -> Call[Credential]:
    return Call("GET", path("/api/providers/{}/keys/{}", provider, key_id), whole(Credential))


def credential_body(
    name: str,
    *,
    provider: str,
    value: str | Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    blacklisted_models: Sequence[str] | None = None,
    aliases: Mapping[str, str] | None = None,
    weight: float | None = None,
    enabled: bool | None = None,
    platform: bool | None = None,
    key_id: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A key object from the common fields; `config` is the provider's block (`<provider>_key_config`)."""
    body: dict[str, Any] = {"name": name}
    optional = {
        "id": key_id,
        "value": value,
        "models": list(models) if models is not None else None,
        "blacklisted_models": list(blacklisted_models) if blacklisted_models is not None else None,
        "aliases": dict(aliases) if aliases is not None else None,
        "weight": weight,
        "enabled": enabled,
        "platform": platform,
        config_field(provider): dict(config) if config is not None else None,
    }
    body.update({field: item for field, item in optional.items() if item is not None})
    return body


def create_credential(provider: str, body: Mapping[str, Any]) -> Call[Credential]:
    """Add a credential (admin, providers:write); `body` is a key object, see `credential_body`."""
    return Call("POST", path("/api/providers/{}/keys", provider), whole(Credential), json=dict(body))


def replace_credential(provider: str, key_id: str, body: Mapping[str, Any]) -> Call[Credential]:
    """Replace every field of a credential; redacted values sent back unchanged keep their secret."""
    url = path("/api/providers/{}/keys/{}", provider, key_id)
    return Call("PUT", url, whole(Credential), json=dict(body))


def delete_credential(provider: str, key_id: str) -> Call[Credential]:
    """Remove a credential; the answer is the removed key object."""
    return Call("DELETE", path("/api/providers/{}/keys/{}", provider, key_id), whole(Credential))


def refresh_models(provider: str, key_id: str) -> Call[Credential]:
    """Ask the provider which models the credential serves (its `discovered_models`)."""
    url = path("/api/providers/{}/keys/{}/refresh-models", provider, key_id)
    return Call("POST", url, whole(Credential))


def merged_credential(
    current: Mapping[str, Any], provider: str, changes: CredentialChanges
) -> dict[str, Any]:
    """The PUT body that changes only the given fields of `current` (as GET answered it).

    Redacted secrets go back as the server showed them, which keeps them; `config` entries are
    merged into the provider's block.
    """
    body = copy.deepcopy(dict(current))
    for field, item in changes.items():
        if field == "config" and isinstance(item, dict):
            block = body.get(config_field(provider))
            body[config_field(provider)] = {**(block if isinstance(block, dict) else {}), **item}
        else:
            body[field] = item
    return body
