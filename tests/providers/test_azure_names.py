"""Azure puts the deployment (the model or its alias target) into the URL path: stored names that
could climb out of their segment are a 400, and every name is percent-encoded as one segment."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.gateway.upstream import upstream_url
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.eligibility import RoutableCredential
from tests.factories import bearer, make_org
from tests.providers.test_bad_input import assert_bifrost_error


def _azure(**extra: Any) -> dict[str, Any]:
    return {
        "name": "az",
        "value": "sk-az",
        "azure_key_config": {"endpoint": "https://93.184.216.34"},
        **extra,
    }


@pytest.mark.parametrize(
    "body",
    [
        _azure(models=["../../admin"]),
        _azure(models=["gpt-4o/../x"]),
        _azure(models=[".."]),
        _azure(aliases={"fast": "deployments/other"}),
        _azure(aliases={"fast": "..\\x"}),
    ],
)
async def test_an_unsafe_deployment_name_is_refused_when_stored(
    body: dict[str, Any], client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    response = await client.post(
        "/api/providers/azure/keys", json=body, headers=bearer(tenant.management_key)
    )
    error = assert_bifrost_error(response, 400)
    assert "cannot be an Azure deployment name" in error["error"]["message"]


async def test_slashes_stay_allowed_where_no_path_is_built(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    body = {"name": "or", "value": "sk-or", "models": ["meta-llama/llama-3-70b"]}
    response = await client.post(
        "/api/providers/openrouter/keys", json=body, headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text


def _credential(version: str | None = None) -> RoutableCredential:
    return RoutableCredential(
        id="az",
        provider="azure",
        api_style="azure",
        base_url="https://example.openai.azure.com",
        api_key="k",
        models=(),
        blacklisted_models=(),
        aliases=MappingProxyType({}),
        weight=1.0,
        is_byok=True,
        org_id="o",
        eu_native=False,
        zero_data_retention=False,
        quantization=False,
        azure_api_version=version,
        uid="u",
        egress_guarded=True,
    )


def test_a_deployment_is_encoded_as_one_path_segment() -> None:
    url = upstream_url(_credential("2024-10-21&x=1"), "chat/completions", "gpt 4o?x=1#frag")
    assert url == (
        "https://example.openai.azure.com/openai/deployments/gpt%204o%3Fx%3D1%23frag/chat/completions"
        "?api-version=2024-10-21%26x%3D1"
    )


@pytest.mark.parametrize("name", ["../admin", "a/b", "..", "a\\b"])
def test_an_unsafe_deployment_never_becomes_a_url(name: str) -> None:
    with pytest.raises(ValueError):
        upstream_url(_credential(), "chat/completions", name)
