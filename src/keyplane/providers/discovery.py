"""Model discovery: ask the provider which models a credential can use.

Failure reasons are fixed sentences: upstream bodies and URLs may echo the key, so neither is
ever copied into `description` or a log line. A tenant's URL passes the egress guard at connect
time too (resolve, check, connect to the checked address), and redirects are never followed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.kernel.principal import Principal
from keyplane.models import ProviderCredential, ProviderSetting
from keyplane.models.base import utcnow
from keyplane.net.egress import EgressPolicy, EgressRefused, HostUnresolvable, checked_addresses, split_url
from keyplane.providers.aws_signing import has_access_keys, sign
from keyplane.providers.eligibility import RoutableCredential, to_routable
from keyplane.providers.policy import ProviderPolicy, rules_for_owner
from keyplane.providers.secrets import SecretBox

if TYPE_CHECKING:  # httpx (and the click and rich its CLI pulls in) loads on the first discovery
    import httpx

STATUS_SUCCESS = "success"
STATUS_FAILED = "list_models_failed"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_MODELS = 10_000
# Cohere lists rerank and classify models too; the gateway can route only these endpoints.
COHERE_ROUTABLE_ENDPOINTS = frozenset({"chat", "embed"})
AZURE_DEPLOYMENTS_API_VERSION = "2022-12-01"
ANTHROPIC_VERSION = "2023-06-01"


class DiscoveryFailed(Exception):
    """Why the model list could not be read, in words safe to store and show."""


def _request(credential: RoutableCredential) -> tuple[str, dict[str, str], str, str]:
    """(url, headers, list field, id field) of the provider's model list endpoint."""
    base = credential.base_url.rstrip("/")
    key = credential.api_key
    if credential.api_style == "openai":
        return f"{base}/models", {"Authorization": f"Bearer {key}"} if key else {}, "data", "id"
    if credential.api_style == "azure":
        if not key:
            raise DiscoveryFailed("Model discovery for Azure needs an API key value")
        url = f"{base}/openai/deployments?api-version={AZURE_DEPLOYMENTS_API_VERSION}"
        return url, {"api-key": key}, "data", "id"
    if credential.api_style == "anthropic":
        headers = {"x-api-key": key or "", "anthropic-version": ANTHROPIC_VERSION}
        return f"{base}/v1/models?limit=1000", headers, "data", "id"
    if credential.api_style == "ollama":
        return f"{base}/api/tags", {"Authorization": f"Bearer {key}"} if key else {}, "models", "name"
    if credential.api_style == "bedrock":
        return _bedrock_request(credential)
    if credential.api_style == "cohere":
        return f"{base}/v1/models?page_size=1000", {"Authorization": f"Bearer {key}"}, "models", "name"
    raise DiscoveryFailed(
        f"Model discovery is not supported for provider '{credential.provider}'; list its models explicitly"
    )


def _bedrock_request(credential: RoutableCredential) -> tuple[str, dict[str, str], str, str]:
    """ListFoundationModels on the control plane (`bedrock.{region}`, beside `bedrock-runtime.`);
    an operator-set base URL serves both planes."""
    base = credential.base_url.rstrip("/").replace("://bedrock-runtime.", "://bedrock.", 1)
    url = f"{base}/foundation-models"
    headers = {"Accept": "application/json"}
    if has_access_keys(credential.extra) and credential.extra.get("region"):
        sign(credential.extra, "GET", url, headers, b"")
    elif credential.api_key:
        headers["Authorization"] = f"Bearer {credential.api_key}"
    else:
        raise DiscoveryFailed("Model discovery for Bedrock needs an access key pair or an API key")
    return url, headers, "modelSummaries", "modelId"


def _parse(payload: Any, list_field: str, id_field: str, *, api_style: str = "") -> list[str]:
    items = payload.get(list_field) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise DiscoveryFailed(f"Provider answered without a '{list_field}' list of models")
    found: list[str] = []
    for item in items[:MAX_MODELS]:
        if api_style == "cohere" and not _cohere_routable(item):
            continue
        model = item.get(id_field) if isinstance(item, dict) else None
        if not isinstance(model, str) or not model or len(model) > 200:
            raise DiscoveryFailed("Provider answered with a malformed model entry")
        if model not in found:
            found.append(model)
    return found


def _cohere_routable(item: Any) -> bool:
    """A Cohere model entry the gateway can serve (one without `endpoints` is kept)."""
    endpoints = item.get("endpoints") if isinstance(item, dict) else None
    if not isinstance(endpoints, list):
        return True
    return any(endpoint in COHERE_ROUTABLE_ENDPOINTS for endpoint in endpoints)


async def _pinned(url: str, headers: dict[str, str], egress: EgressPolicy) -> tuple[str, dict[str, Any]]:
    """The URL with its host replaced by a checked address; Host and TLS name stay the original."""
    try:
        scheme, host, port = split_url(url)
        addresses = await checked_addresses(host, port, egress)
    except EgressRefused:
        raise DiscoveryFailed(
            "The provider's address is not a public internet address; only the operator can "
            "allow private hosts"
        ) from None
    except HostUnresolvable:
        raise DiscoveryFailed("Could not connect to the provider") from None
    parts = urlsplit(url)
    address = addresses[0]
    netloc = f"[{address}]" if ":" in address else address
    headers["Host"] = parts.netloc
    extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}")), extensions


async def list_upstream_models(
    credential: RoutableCredential,
    *,
    timeout_seconds: float,
    egress: EgressPolicy,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """The model ids the provider reports for this credential; raises DiscoveryFailed."""
    import httpx

    url, headers, list_field, id_field = _request(credential)
    extensions: dict[str, Any] = {}
    if credential.egress_guarded:
        url, extensions = await _pinned(url, headers, egress)
    try:
        async with (
            httpx.AsyncClient(
                timeout=timeout_seconds, trust_env=False, transport=transport, follow_redirects=False
            ) as client,
            client.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            if response.status_code in (401, 403):
                raise DiscoveryFailed(f"Provider refused the credential (HTTP {response.status_code})")
            if response.status_code >= 300:
                raise DiscoveryFailed(f"Provider answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY_BYTES:
                    raise DiscoveryFailed("Provider answered with an oversized model list")
    except httpx.TimeoutException:
        raise DiscoveryFailed(f"Provider did not answer within {timeout_seconds:g} seconds") from None
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.NetworkError):
        raise DiscoveryFailed("Could not connect to the provider") from None
    except httpx.HTTPError:
        raise DiscoveryFailed("The request to the provider failed") from None
    try:
        payload = json.loads(bytes(body))
    except ValueError:
        raise DiscoveryFailed("Provider answered with something that is not JSON") from None
    return _parse(payload, list_field, id_field, api_style=credential.api_style)


async def _routable(
    session: AsyncSession, row: ProviderCredential, box: SecretBox, policy: ProviderPolicy
) -> RoutableCredential | None:
    with session.no_autoflush:  # a pending change must not take a write lock before the network call
        setting = await session.get(ProviderSetting, row.provider)
        rules = await rules_for_owner(session, policy, row.org_id)
    # Discovery works on disabled keys too: an operator checks a key before enabling it.
    return to_routable(row, box, setting.base_url if setting else None, rules=rules)


async def endpoint(
    *, session: AsyncSession, row: ProviderCredential, box: SecretBox, policy: ProviderPolicy
) -> tuple[str, str | None] | None:
    """(base URL, secret) the credential reaches now: a change of either is worth a new discovery."""
    routable = await _routable(session, row, box, policy)
    return (routable.base_url, routable.api_key) if routable is not None else None


async def discover(
    *,
    session: AsyncSession,
    row: ProviderCredential,
    box: SecretBox,
    timeout_seconds: float,
    policy: ProviderPolicy,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Ask the provider for the credential's models and write the outcome onto `row` (no flush).

    Returns how many models were found; a failure keeps the models found before and sets
    status list_models_failed with a fixed-sentence reason.
    """
    routable = await _routable(session, row, box, policy)
    try:
        if routable is None:
            raise DiscoveryFailed(
                "The credential cannot be used: no base URL, no usable value (unset environment "
                "variable?) or a secret that cannot be decrypted"
            )
        models = await list_upstream_models(
            routable, timeout_seconds=timeout_seconds, egress=policy.egress, transport=transport
        )
    except DiscoveryFailed as failure:
        row.status, row.description = STATUS_FAILED, str(failure)
        return 0
    row.status, row.description = STATUS_SUCCESS, f"{len(models)} models found"
    row.discovered_models = models
    return len(models)


async def refresh_models(
    *,
    session: AsyncSession,
    principal: Principal,
    row: ProviderCredential,
    box: SecretBox,
    timeout_seconds: float,
    policy: ProviderPolicy,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ProviderCredential:
    """Call the provider with this credential, record the models found and the outcome."""
    found = await discover(
        session=session, row=row, box=box, timeout_seconds=timeout_seconds, policy=policy, transport=transport
    )
    row.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        principal,
        "provider_credential.models_refreshed",
        row,
        org_id=principal.org_id,
        provider=row.provider,
        status=row.status,
        models=found,
    )
    return row
