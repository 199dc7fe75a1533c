"""What `/v1/models` lists for a key: the models it can call, never one routing would refuse.

A credential serving every model lists what discovery found; any other lists its models. Both
add their aliases. The project config (allowed providers, EU-native, zero data retention,
quantization) drops credentials as routing does, and the key's `allowed_models` narrows the rest.
"""

from __future__ import annotations

from typing import Any

from keyplane.gateway.adapters import CHAT_STYLES
from keyplane.gateway.key_cache import KeyRecord
from keyplane.gateway.route_policy import policy_from, policy_permits
from keyplane.gateway.snapshot import WorkspaceView
from keyplane.providers.eligibility import WILDCARD, route_model, serves_all_models


def listed_models(view: WorkspaceView, key: KeyRecord) -> list[dict[str, Any]]:
    """OpenAI's model objects, sorted by id, each owned by the first credential's provider."""
    policy = policy_from(view.inference_config, {})
    owners: dict[str, str] = {}
    for credential in view.credentials:
        if credential.api_style not in CHAT_STYLES or not policy_permits(credential, policy):
            continue
        served = credential.discovered_models if serves_all_models(credential.models) else credential.models
        for name in (*served, *credential.aliases, *(key.allowed_models or ())):
            if name != WILDCARD and route_model(credential, name) is not None:
                owners.setdefault(name, credential.provider)
    return [
        {"id": name, "object": "model", "created": 0, "owned_by": owner}
        for name, owner in sorted(owners.items())
        if key.allows_model(name)
    ]
