"""SSRF through a tenant's credential URLs: refused when written (400), refused again when discovery
connects (the row may predate the rule, or DNS may have changed), never redirected."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import ProviderCredential
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org
from tests.fakes.dns import FakeDns
from tests.providers.test_bad_input import assert_bifrost_error
from tests.providers.upstream import GOOD_KEY, Upstream

PUBLIC = "93.184.216.34"  # only ever resolved to, never connected to


def _body(provider: str, url: str) -> dict[str, Any]:
    if provider == "azure":
        return {"name": "az", "value": GOOD_KEY, "azure_key_config": {"endpoint": url}}
    return {"name": provider, "value": GOOD_KEY, f"{provider}_key_config": {"url": url}}


async def _tenant(context: AppContext) -> BootstrapResult:
    return await make_org(context, name="Tenant", email="owner@tenant.test")


PRIVATE_TARGETS = [
    ("vllm", "http://127.0.0.1:8000"),
    ("sgl", "http://localhost:30000"),
    ("ollama", "http://[::ffff:127.0.0.1]:11434"),
    ("azure", "http://169.254.169.254/latest/meta-data"),
    ("vllm", "http://10.0.0.5:8000/v1"),
    ("vllm", {"value": "http://[::1]:8000"}),  # the EnvVar object form
]


@pytest.mark.parametrize(("provider", "url"), PRIVATE_TARGETS)
async def test_a_tenant_url_to_a_private_address_is_refused(
    provider: str, url: Any, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    response = await client.post(
        f"/api/providers/{provider}/keys", json=_body(provider, url), headers=bearer(tenant.management_key)
    )
    error = assert_bifrost_error(response, 400)
    assert error["error"]["type"] == "egress_refused"
    assert "not a public internet address" in error["error"]["message"]
    assert "KEYPLANE_ALLOWED_UPSTREAM_HOSTS" in error["error"]["message"]


async def test_a_tenant_name_resolving_to_loopback_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, fake_dns: FakeDns
) -> None:
    fake_dns.answers["internal.test"] = [PUBLIC, "127.0.0.1"]
    tenant = await _tenant(context)
    response = await client.post(
        "/api/providers/vllm/keys",
        json=_body("vllm", "http://internal.test:8000"),
        headers=bearer(tenant.management_key),
    )
    assert_bifrost_error(response, 400)
    assert fake_dns.lookups == ["internal.test"]


async def test_a_tenant_cannot_repoint_its_key_to_a_private_address(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    headers = bearer(tenant.management_key)
    created = await client.post(
        "/api/providers/vllm/keys", json=_body("vllm", f"http://{PUBLIC}"), headers=headers
    )
    assert created.status_code == 200, created.text
    path = f"/api/providers/vllm/keys/{created.json()['id']}"
    moved = await client.put(path, json=_body("vllm", "http://127.0.0.1:9000"), headers=headers)
    assert_bifrost_error(moved, 400)
    assert (await client.get(path, headers=headers)).json()["vllm_key_config"]["url"][
        "value"
    ] == f"http://{PUBLIC}"


async def test_a_tenant_ollama_key_cannot_fall_back_to_the_servers_localhost(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    response = await client.post(
        "/api/providers/ollama/keys", json={"name": "o"}, headers=bearer(tenant.management_key)
    )
    assert "ollama_key_config.url is required" in assert_bifrost_error(response, 400)["error"]["message"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "http://u:p@h.test/"])
async def test_only_plain_http_urls_are_stored_for_anyone(
    url: str, client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.post(
        "/api/providers/vllm/keys", json=_body("vllm", url), headers=bearer(org.management_key)
    )
    assert_bifrost_error(response, 400)


@pytest.mark.parametrize("region", ["x.evil.test/#", "a@127.0.0.1:80/", "EU WEST"])
async def test_a_region_cannot_steer_the_provider_host(
    region: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    body = {"name": "b", "bedrock_key_config": {"region": region, "access_key": "a", "secret_key": "s"}}
    response = await client.post(
        "/api/providers/bedrock/keys", json=body, headers=bearer(tenant.management_key)
    )
    assert "region must be a region name" in assert_bifrost_error(response, 400)["error"]["message"]


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "localhost"])
async def test_the_operator_can_open_a_private_host_to_tenants(
    allowed: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, upstream: Upstream
) -> None:
    context.settings.allowed_upstream_hosts = allowed
    tenant = await _tenant(context)
    url = upstream.base if allowed != "localhost" else upstream.base.replace("127.0.0.1", "localhost")
    headers = bearer(tenant.management_key)
    created = await client.post("/api/providers/vllm/keys", json=_body("vllm", url), headers=headers)
    assert created.status_code == 200, created.text
    refreshed = await client.post(
        f"/api/providers/vllm/keys/{created.json()['id']}/refresh-models", headers=headers
    )
    assert refreshed.json()["status"] == "success", refreshed.json()["description"]


async def test_the_operator_orgs_own_loopback_server_stays_trusted(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/providers/vllm/keys", json=_body("vllm", upstream.base), headers=headers
    )
    refreshed = await client.post(
        f"/api/providers/vllm/keys/{created.json()['id']}/refresh-models", headers=headers
    )
    assert refreshed.json()["status"] == "success"


async def _refresh(client: httpx.AsyncClient, key: str, key_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/providers/vllm/keys/{key_id}/refresh-models", headers=bearer(key))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_discovery_refuses_a_stored_private_url_at_connect_time(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, upstream: Upstream
) -> None:
    # Written while the operator allowed loopback (or before the rule existed); then closed again.
    context.settings.allowed_upstream_hosts = "127.0.0.1"
    tenant = await _tenant(context)
    created = await client.post(
        "/api/providers/vllm/keys", json=_body("vllm", upstream.base), headers=bearer(tenant.management_key)
    )
    context.settings.allowed_upstream_hosts = ""
    refreshed = await _refresh(client, tenant.management_key, created.json()["id"])
    assert refreshed["status"] == "list_models_failed"
    assert refreshed["description"] == (
        "The provider's address is not a public internet address; only the operator can allow private hosts"
    )
    assert upstream.seen == []


async def test_discovery_checks_the_address_dns_gives_at_connect_time(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    upstream: Upstream,
    fake_dns: FakeDns,
) -> None:
    port = upstream.base.rsplit(":", 1)[1]
    fake_dns.answers["rebind.test"] = [PUBLIC]
    tenant = await _tenant(context)
    created = await client.post(
        "/api/providers/vllm/keys",
        json=_body("vllm", f"http://rebind.test:{port}"),
        headers=bearer(tenant.management_key),
    )
    assert created.status_code == 200, created.text
    fake_dns.answers["rebind.test"] = ["127.0.0.1"]  # the tenant's DNS now answers loopback
    refreshed = await _refresh(client, tenant.management_key, created.json()["id"])
    assert refreshed["status"] == "list_models_failed"
    assert "not a public internet address" in refreshed["description"]
    assert upstream.seen == []


async def test_discovery_connects_to_the_checked_address_with_the_original_host(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    upstream: Upstream,
    fake_dns: FakeDns,
) -> None:
    context.settings.allowed_upstream_hosts = "127.0.0.1"
    port = upstream.base.rsplit(":", 1)[1]
    fake_dns.answers["models.test"] = ["127.0.0.1"]
    tenant = await _tenant(context)
    created = await client.post(
        "/api/providers/vllm/keys",
        json=_body("vllm", f"http://models.test:{port}"),
        headers=bearer(tenant.management_key),
    )
    refreshed = await _refresh(client, tenant.management_key, created.json()["id"])
    assert refreshed["status"] == "success"
    ((path, headers),) = upstream.seen
    assert path == "/v1/models" and headers["host"] == f"models.test:{port}"
    assert fake_dns.lookups.count("models.test") == 2  # once when written, once when connecting


async def test_discovery_follows_no_redirect(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, upstream: Upstream
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/providers/vllm/keys", json=_body("vllm", upstream.base + "/redirect"), headers=headers
    )
    refreshed = await _refresh(client, org.management_key, created.json()["id"])
    assert refreshed["status"] == "list_models_failed"
    assert refreshed["description"] == "Provider answered HTTP 302"
    assert [path for path, _ in upstream.seen] == ["/redirect/v1/models"]


async def test_discovery_keeps_the_providers_error_body_out(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, upstream: Upstream
) -> None:
    context.settings.allowed_upstream_hosts = "127.0.0.1"
    tenant = await _tenant(context)
    created = await client.post(
        "/api/providers/vllm/keys",
        json={"name": "v", "value": "sk-wrong", "vllm_key_config": {"url": upstream.base}},
        headers=bearer(tenant.management_key),
    )
    refreshed = await _refresh(client, tenant.management_key, created.json()["id"])
    assert refreshed["description"] == "Provider refused the credential (HTTP 401)"
    async with context.sessions() as session:
        row = (await session.execute(select(ProviderCredential))).scalar_one()
    assert "Incorrect API key" not in row.description
