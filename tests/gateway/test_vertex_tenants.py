"""A tenant's Vertex AI credential: its service account's token_uri is a tenant-set URL, so the
gateway's token request passes the egress guard at connect time (even where the operator set the
model endpoint's base URL), and works where the operator opened the host."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.factories import bearer, make_key, make_org
from tests.fakes import vertex as fake
from tests.fakes.dns import FakeDns
from tests.fakes.upstream import RunningUpstream
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

GEMINI = "gemini-2.0-flash-001"
PUBLIC = "93.184.216.34"  # only ever resolved to, never connected to
BODY = {"model": GEMINI, "messages": [{"role": "user", "content": "hi"}]}


async def _tenant_key(setup: GatewaySetup, vertex: RunningUpstream, token_host: str) -> str:
    """The operator points `vertex` at the fake; a tenant adds its own key with `token_host`."""
    await setup.point_provider_at("vertex", vertex.port)
    tenant = await make_org(setup.context, name="Tenant", email="owner@tenant.test")
    account = fake.service_account(f"http://{token_host}:{vertex.port}/token")
    config = {"project_id": fake.PROJECT, "region": fake.REGION, "auth_credentials": json.dumps(account)}
    created = await setup.client.post(
        "/api/providers/vertex/keys",
        json={"name": "own-vertex", "models": [GEMINI], "vertex_key_config": config},
        headers=bearer(tenant.management_key),
    )
    assert created.status_code == 200, created.text
    return await make_key(setup.context, org_id=tenant.org_id, user_id=tenant.user_id, kind="inference")


async def test_a_token_uri_rebound_to_loopback_is_refused_at_connect_time(
    setup: GatewaySetup,
    served: ServedApp,
    http: httpx.AsyncClient,
    fake_dns: FakeDns,
    vertex_upstream: RunningUpstream,
) -> None:
    fake_dns.answers["tokens.test"] = [PUBLIC]
    key = await _tenant_key(setup, vertex_upstream, "tokens.test")
    fake_dns.answers["tokens.test"] = ["127.0.0.1"]
    response = await http.post(served.base_url + "/v1/chat/completions", json=BODY, headers=bearer(key))
    error = assert_openai_error(response, 502, "upstream_error")
    assert "not a public internet address" in error["message"]
    assert vertex_upstream.app.token_requests == [] and vertex_upstream.requests == []


async def test_a_tenant_key_works_where_the_operator_opened_the_token_host(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    vertex_upstream: RunningUpstream,
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    setup.context.settings.allowed_upstream_hosts = "127.0.0.1"  # for the write-time check too
    key = await _tenant_key(setup, vertex_upstream, "127.0.0.1")
    response = await http.post(served.base_url + "/v1/chat/completions", json=BODY, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert len(vertex_upstream.app.token_requests) == 1 and len(vertex_upstream.requests) == 1
    (row,) = await setup.wait_for_usage(1)
    assert row.is_byok and row.provider == "vertex"
