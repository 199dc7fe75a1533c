"""Pick the credentials that may serve a request, in the order to try them.

The workspace's project config (Cortecs `inference_config`) narrows the candidates; when the
project sets `allow_overwrite`, a request may narrow them further with a `provider` object in its
body holding the same fields (`allowed_providers`, `eu_native`, `allow_quantization`,
`allow_zero_data_retention`, `enable_model_fallback`, `preference`). Without `allow_overwrite`
such a request is refused (403) rather than silently routed against the caller's wishes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keyplane.errors import BadRequest, Forbidden, KeyplaneError
from keyplane.gateway.adapters import ADAPTERS
from keyplane.net.paths import is_safe_segment
from keyplane.providers.eligibility import RoutableCredential, eligible_credentials, weighted_order

# API styles forwarded unchanged over the OpenAI wire format (azure: deployment URLs + api-key).
NATIVE_STYLES = frozenset({"openai", "azure", "ollama"})
KIND_NAMES = {"chat": "chat", "embeddings": "embeddings", "count_tokens": "token counting"}
PREFERENCES = ("speed", "cost", "balanced")
OVERRIDE_FIELDS: dict[str, type] = {
    "allowed_providers": list,
    "eu_native": bool,
    "allow_quantization": bool,
    "allow_zero_data_retention": bool,
    "enable_model_fallback": bool,
    "preference": str,
}


class ProviderNotSupported(KeyplaneError):
    status_code = 501
    code = "provider_not_supported"


class NoRoute(KeyplaneError):
    status_code = 404
    code = "model_not_found"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    allowed_providers: tuple[str, ...] = ()
    eu_native: bool = False
    allow_quantization: bool = True
    zero_data_retention: bool = False
    fallback: bool = True
    preference: str | None = None
    max_tokens_cap: int | None = None


def _merge(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(config)
    merged.update(overrides)
    return merged


def check_overrides(value: Any, *, allowed: bool) -> Mapping[str, Any]:
    """Validate a request's `provider` object; refuse it when the project does not allow overrides."""
    if value is None:
        return {}
    if not allowed:
        raise Forbidden(
            "This project does not allow per-request provider settings (allow_overwrite is off)",
            code="overrides_not_allowed",
        )
    if not isinstance(value, dict):
        raise BadRequest("provider must be an object")
    for name, item in value.items():
        expected = OVERRIDE_FIELDS.get(name)
        if expected is None:
            raise BadRequest(f"provider.{name[:50]} is not a known setting")
        if item is not None and not isinstance(item, expected):
            raise BadRequest(f"provider.{name} must be a {expected.__name__}")
        if isinstance(item, list) and not all(isinstance(p, str) for p in item):
            raise BadRequest("provider.allowed_providers must be a list of provider names")
        if name == "preference" and item is not None and item not in PREFERENCES:
            raise BadRequest(f"provider.preference must be one of {', '.join(PREFERENCES)}")
    return {k: v for k, v in value.items() if v is not None}


def policy_from(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> RoutingPolicy:
    merged = _merge(config, overrides)
    allowed = merged.get("allowed_providers") or ()
    cap = config.get("max_tokens")  # the cap is the project's, a request cannot raise it
    preference = merged.get("preference")
    return RoutingPolicy(
        allowed_providers=tuple(str(p) for p in allowed if isinstance(p, str)),
        eu_native=merged.get("eu_native") is True,
        allow_quantization=merged.get("allow_quantization") is not False,
        zero_data_retention=merged.get("allow_zero_data_retention") is True,
        fallback=merged.get("enable_model_fallback") is not False,
        preference=preference if preference in PREFERENCES else None,
        max_tokens_cap=cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None,
    )


def policy_permits(credential: RoutableCredential, policy: RoutingPolicy) -> bool:
    """The project config lets this credential serve (allowed providers, EU, ZDR, quantization)."""
    if policy.allowed_providers and credential.provider not in policy.allowed_providers:
        return False
    if policy.eu_native and not credential.eu_native:
        return False
    if policy.zero_data_retention and not credential.zero_data_retention:
        return False
    return policy.allow_quantization or not credential.quantization


def route_candidates(
    credentials: Sequence[RoutableCredential],
    model: str,
    policy: RoutingPolicy,
    styles: frozenset[str] = NATIVE_STYLES,
) -> list[tuple[RoutableCredential, str]]:
    """Every credential that may serve the model under the policy and whose API style has an adapter
    for the request (`styles`, gateway/adapters STYLES_FOR)."""
    eligible = eligible_credentials(credentials, model)
    if not eligible:
        raise NoRoute(f"No provider credential serves the model '{model[:200]}'")
    permitted = [c for c in eligible if policy_permits(c[0], policy)]
    if not permitted:
        raise NoRoute(
            f"No provider for the model '{model[:200]}' matches this project's settings "
            "(allowed providers, EU-native, zero data retention, quantization)"
        )
    native = [c for c in permitted if c[0].api_style in styles]
    if not native:
        providers = sorted({c[0].provider for c in permitted})
        raise ProviderNotSupported(
            f"The gateway cannot serve this request through {', '.join(providers)} "
            f"(credentials of this provider are served for: {_served_by(permitted)})"
        )
    # Azure puts the model in the URL path: a name that could climb out of it is never sent there.
    servable = [c for c in native if c[0].api_style != "azure" or is_safe_segment(c[1])]
    if not servable:
        raise BadRequest(
            f"The model name '{model[:200]}' cannot be used as an Azure deployment name "
            "(no '/', '\\' or '..')",
            code="invalid_model",
        )
    return servable


def _served_by(permitted: Sequence[tuple[RoutableCredential, str]]) -> str:
    """What the providers of these credentials can do, for the 501's message."""
    adapters = [ADAPTERS.get(credential.api_style) for credential, _ in permitted]
    kinds = {KIND_NAMES[kind] for adapter in adapters if adapter is not None for kind in adapter.kinds}
    return ", ".join(sorted(kinds)) or "nothing yet"


def order_candidates(
    candidates: Sequence[tuple[RoutableCredential, str]],
    policy: RoutingPolicy,
    rng: random.Random,
    latencies: Mapping[str, float],
) -> list[tuple[RoutableCredential, str]]:
    """Try order: first pick by weight (or by preference), then the fallbacks when allowed."""
    if len(candidates) == 1:
        return list(candidates)
    ordered = weighted_order(candidates, [c[0].weight for c in candidates], rng)
    if policy.preference == "cost":
        # BYOK traffic does not draw on the org's balance: cheapest for the org first.
        ordered.sort(key=lambda c: not c[0].is_byok)
    elif policy.preference == "speed":
        ordered.sort(key=lambda c: latencies.get(c[0].uid, 0.0))
    return ordered if policy.fallback else ordered[:1]


def plan_route(
    credentials: Sequence[RoutableCredential],
    model: str,
    policy: RoutingPolicy,
    rng: random.Random,
    latencies: Mapping[str, float],
) -> list[tuple[RoutableCredential, str]]:
    """Candidates in try order (route_candidates, then order_candidates)."""
    return order_candidates(route_candidates(credentials, model, policy), policy, rng, latencies)
