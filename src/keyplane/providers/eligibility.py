"""Which upstream credentials may serve a model, and in which order to try them.

The selection rules (also in docs/providers.md):
- `models` empty or `["*"]`: the credential serves every model (the provider decides).
  Otherwise it serves exactly the listed names, plus the keys of `aliases`.
- `blacklisted_models` beats everything: a model named there (by the caller's name or by the
  upstream id an alias maps it to) is never served by that credential.
- `aliases` map the caller's model name to the provider's id (a deployment name, an inference
  profile, a fine-tune); the upstream id is what is sent upstream.
- `weight` >= 0 sets the share of traffic; weight 0 is a standby, used only after every positive one.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.service import operator_org_id
from keyplane.kernel.env_refs import EnvRefPolicy
from keyplane.models import ProviderCredential, ProviderSetting
from keyplane.providers.catalog import PROVIDERS, ProviderInfo
from keyplane.providers.policy import OwnerRules, ProviderPolicy, is_trusted_owner, owner_rules
from keyplane.providers.secrets import SecretBox, SecretDecryptError, previous_secret_keys, resolve_secret

logger = logging.getLogger("keyplane.providers")

T = TypeVar("T")
WILDCARD = "*"
_VERSION_SEGMENT = re.compile(r"/v\d+[a-z0-9]*(/|$)")
# A cloud region is a short slug; anything else would steer the URL built from it to another host.
REGION = re.compile(r"^[a-z0-9-]{1,40}$")


@dataclass(frozen=True, slots=True)
class RoutableCredential:
    """One usable credential. `id` is the owner's Bifrost id; `uid` is unique across orgs.

    `egress_guarded`: the base URL comes from a tenant, so every connection to it passes the egress
    guard (keyplane.net.egress); operator-org credentials and operator-set base URLs do not.
    """

    id: str
    provider: str
    api_style: str
    base_url: str
    api_key: str | None
    models: tuple[str, ...]
    blacklisted_models: tuple[str, ...]
    aliases: Mapping[str, str]
    weight: float
    is_byok: bool
    org_id: str | None
    eu_native: bool
    zero_data_retention: bool
    quantization: bool
    azure_api_version: str | None
    uid: str
    egress_guarded: bool
    # Resolved provider-specific values the translating adapters need (region, project, ...).
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # What model discovery found (listed by /v1/models when `models` serves every model).
    discovered_models: tuple[str, ...] = ()


def serves_all_models(models: Sequence[str]) -> bool:
    return not models or tuple(models) == (WILDCARD,)


def route_model(credential: RoutableCredential, model: str) -> str | None:
    """The upstream model id when this credential serves `model`, else None."""
    upstream = credential.aliases.get(model, model)
    blacklist = credential.blacklisted_models
    if model in blacklist or upstream in blacklist:
        return None
    if serves_all_models(credential.models):
        return upstream
    if model in credential.models or upstream in credential.models or model in credential.aliases:
        return upstream
    return None


def eligible_credentials(
    credentials: Sequence[RoutableCredential], model: str
) -> list[tuple[RoutableCredential, str]]:
    """Every credential that serves `model`, with the upstream id to send, in the given order."""
    found: list[tuple[RoutableCredential, str]] = []
    for credential in credentials:
        upstream = route_model(credential, model)
        if upstream is not None:
            found.append((credential, upstream))
    return found


def weighted_order(candidates: Sequence[T], weights: Sequence[float], rng: random.Random) -> list[T]:
    """A weighted random order without replacement: the first pick is proportional to weight.

    Efraimidis-Spirakis: sort by u ** (1 / w) descending. Weight 0 (or negative, or NaN) entries
    follow every positive one, in random order among themselves.
    """
    if len(candidates) != len(weights):
        raise ValueError("candidates and weights differ in length")
    positive: list[tuple[float, int]] = []
    standby: list[tuple[float, int]] = []
    for index, weight in enumerate(weights):
        u = rng.random()
        if weight > 0 and math.isfinite(weight):
            # log(u) / w keeps precision for tiny weights; larger is earlier.
            positive.append((math.log(u) / weight if u > 0 else -math.inf, index))
        else:
            standby.append((u, index))
    positive.sort(key=lambda item: item[0], reverse=True)
    standby.sort(key=lambda item: item[0])
    return [candidates[index] for _, index in positive + standby]


def normalize_openai_base(url: str) -> str:
    """A vLLM/SGLang server URL as an OpenAI base: `http://host:8000` -> `http://host:8000/v1`."""
    url = url.rstrip("/")
    return url if _VERSION_SEGMENT.search(url) else url + "/v1"


def _value(stored: Any, box: SecretBox, env_refs: EnvRefPolicy) -> str | None:
    return resolve_secret(stored, box, env_refs=env_refs) if isinstance(stored, dict) else None


def _region(stored: Any, box: SecretBox, env_refs: EnvRefPolicy) -> str | None:
    region = _value(stored, box, env_refs)
    return region if region and REGION.match(region) else None


def resolve_base_url(
    info: ProviderInfo,
    config: Mapping[str, Any],
    override: str | None,
    box: SecretBox,
    *,
    env_refs: EnvRefPolicy,
) -> str | None:
    """ProviderSetting override > vllm/ollama/sgl config url > azure endpoint > region URL > default."""
    if override:
        return override.rstrip("/")
    block = config.get(info.config_field or "", {}) if info.config_field else {}
    if not isinstance(block, Mapping):
        block = {}
    if info.config_field in ("vllm_key_config", "sgl_key_config", "ollama_key_config"):
        url = _value(block.get("url"), box, env_refs)
        if url:
            return url.rstrip("/") if info.api_style == "ollama" else normalize_openai_base(url)
    if info.name == "azure":
        endpoint = _value(block.get("endpoint"), box, env_refs)
        if endpoint:
            return endpoint.rstrip("/")
    if info.name == "bedrock":
        region = _region(block.get("region"), box, env_refs)
        if region:
            return f"https://bedrock-runtime.{region}.amazonaws.com"
    if info.name == "vertex":
        region = _region(block.get("region"), box, env_refs)
        if region:
            host = (
                "aiplatform.googleapis.com" if region == "global" else f"{region}-aiplatform.googleapis.com"
            )
            return f"https://{host}"
    return info.default_base_url


def resolve_extra(
    info: ProviderInfo, config: Mapping[str, Any], box: SecretBox, *, env_refs: EnvRefPolicy
) -> dict[str, str]:
    """Every scalar field of the provider's config block, resolved (secrets included)."""
    block = config.get(info.config_field or "", {}) if info.config_field else {}
    extra: dict[str, str] = {}
    if not isinstance(block, Mapping):
        return extra
    for name, stored in block.items():
        if isinstance(stored, dict) and "kind" in stored:
            value = resolve_secret(stored, box, env_refs=env_refs)
            if value is not None:
                extra[name] = value
        elif isinstance(stored, str | bool | int | float):
            extra[name] = str(stored)
    return extra


def to_routable(
    row: ProviderCredential, box: SecretBox, override: str | None, *, rules: OwnerRules
) -> RoutableCredential | None:
    """Resolve one stored credential under its owner's rules; None when it cannot be used now (logged)."""
    info = PROVIDERS.get(row.provider)
    if info is None:
        logger.warning("credential %s names an unknown provider; skipped", row.id)
        return None
    config = row.config or {}
    try:
        api_key = resolve_secret(row.value, box, env_refs=rules.env_refs)
        base_url = resolve_base_url(info, config, override, box, env_refs=rules.env_refs)
        extra = resolve_extra(info, config, box, env_refs=rules.env_refs)
    except SecretDecryptError:
        logger.error("credential %s cannot be decrypted with the configured secret key; skipped", row.id)
        return None
    if base_url is None:
        logger.warning("credential %s has no base URL (set one in its config or provider settings)", row.id)
        return None
    if info.requires_value and api_key is None and not _has_alternative_auth(info, extra):
        logger.warning("credential %s has no usable value (unset environment variable?); skipped", row.id)
        return None
    return RoutableCredential(
        id=row.id,
        provider=row.provider,
        api_style=info.api_style,
        base_url=base_url,
        api_key=api_key,
        models=tuple(row.models or ()),
        blacklisted_models=tuple(row.blacklisted_models or ()),
        aliases=MappingProxyType(dict(row.aliases or {})),
        weight=float(row.weight),
        # The operator org's credentials are the platform's own: their cost counts in every limit.
        is_byok=not rules.trusted,
        org_id=row.org_id,
        eu_native=info.eu_native,
        zero_data_retention=info.zero_data_retention,
        quantization=info.quantization,
        azure_api_version=extra.get("api_version") if info.name == "azure" else None,
        uid=row.uid,
        egress_guarded=not rules.trusted and not override,
        extra=MappingProxyType(extra),
        discovered_models=tuple(row.discovered_models or ()),
    )


def _has_alternative_auth(info: ProviderInfo, extra: Mapping[str, str]) -> bool:
    """Azure may authenticate with an Entra ID service principal instead of an API key."""
    return info.name == "azure" and all(extra.get(f) for f in ("client_id", "client_secret", "tenant_id"))


async def load_routable_credentials(
    *,
    session: AsyncSession,
    org_id: str,
    secret_key: str,
    policy: ProviderPolicy,
    previous_keys: Sequence[str] | None = None,
) -> list[RoutableCredential]:
    """Enabled credentials this org may use: its own (BYOK) and the platform's (org_id NULL).

    Each is resolved under its owner's rules (`policy`): a tenant's env references read nothing
    and its URLs stay behind the egress guard.

    `previous_keys` default: KEYPLANE_SECRET_KEY_PREVIOUS, so a key roll needs no caller change.
    """
    if previous_keys is None:
        previous_keys = previous_secret_keys()
    box = SecretBox(secret_key, previous_keys=previous_keys)
    rows = (
        (
            await session.execute(
                select(ProviderCredential)
                .where(
                    ProviderCredential.enabled.is_(True),
                    or_(ProviderCredential.org_id == org_id, ProviderCredential.org_id.is_(None)),
                )
                .order_by(ProviderCredential.created_at, ProviderCredential.id)
            )
        )
        .scalars()
        .all()
    )
    overrides = {
        setting.provider: setting.base_url
        for setting in (await session.execute(select(ProviderSetting))).scalars().all()
    }
    operator_id = await operator_org_id(session)
    found: list[RoutableCredential] = []
    for row in rows:
        rules = owner_rules(policy, trusted=is_trusted_owner(row.org_id, operator_id))
        routable = to_routable(row, box, overrides.get(row.provider), rules=rules)
        if routable is not None:
            found.append(routable)
    return found
