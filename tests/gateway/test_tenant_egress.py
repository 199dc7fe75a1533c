"""The gateway's connections for tenant credentials pass the egress guard every time they are
opened: a stored private URL, a name whose DNS turned to loopback, or a pooled connection of a
trusted credential never carry a tenant's request there; a tenant's env reference sends nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from keyplane.models import ProviderCredential
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key, make_org
from tests.fakes.dns import FakeDns
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

MESSAGES = [{"role": "user", "content": "hi"}]
PUBLIC = "93.184.216.34"  # only ever resolved to, never connected to
REFUSED = "The provider's address is not a public internet address; only the operator can allow private hosts"


async def _tenant(
    setup: GatewaySetup, url: str, *, allow_when_written: str = "127.0.0.1"
) -> tuple[BootstrapResult, str]:
    """A tenant with a vLLM credential at `url`, written while the operator allowed `allow_when_written`."""
    tenant = await make_org(setup.context, name="Tenant", email="owner@tenant.test")
    setup.context.settings.allowed_upstream_hosts = allow_when_written
    created = await setup.client.post(
        "/api/providers/vllm/keys",
        json={"name": "own", "value": "sk-tenant", "models": ["gpt-test"], "vllm_key_config": {"url": url}},
        headers=bearer(tenant.management_key),
    )
    setup.context.settings.allowed_upstream_hosts = ""
    assert created.status_code == 200, created.text
    key = await make_key(setup.context, org_id=tenant.org_id, user_id=tenant.user_id, kind="inference")
    return tenant, key


async def _chat(
    http: httpx.AsyncClient, served: ServedApp, key: str, model: str = "gpt-test"
) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES}
    return await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))


def _loopback(setup: GatewaySetup, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{setup.upstream.port}"


async def test_a_stored_loopback_url_is_refused_at_connect_time(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    _tenant_org, key = await _tenant(setup, _loopback(setup))
    error = assert_openai_error(await _chat(http, served, key), 502, "upstream_error")
    assert error["message"] == REFUSED
    assert setup.upstream.requests == []


async def test_the_same_credential_works_once_the_operator_allows_the_host(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    _tenant_org, key = await _tenant(setup, _loopback(setup))
    response = await _chat(http, served, key)
    assert response.status_code == 200, response.text
    assert len(setup.upstream.requests) == 1


async def test_a_name_rebound_to_loopback_after_writing_is_refused(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient, fake_dns: FakeDns
) -> None:
    fake_dns.answers["rebind.test"] = [PUBLIC]
    _tenant_org, key = await _tenant(setup, _loopback(setup, "rebind.test"), allow_when_written="")
    fake_dns.answers["rebind.test"] = ["127.0.0.1"]
    error = assert_openai_error(await _chat(http, served, key), 502, "upstream_error")
    assert error["message"] == REFUSED
    assert setup.upstream.requests == []
    assert fake_dns.lookups == ["rebind.test", "rebind.test"]  # when written, when connecting


async def test_a_trusted_pooled_connection_is_not_reused_for_a_tenant(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await setup.add_credential(name="operator", models=["op-model"], url=_loopback(setup))
    await setup.add_credit(1.0)
    operator_key, _ = await setup.make_key()
    assert (await _chat(http, served, operator_key, "op-model")).status_code == 200  # pools a connection
    _tenant_org, key = await _tenant(setup, _loopback(setup))
    assert_openai_error(await _chat(http, served, key), 502, "upstream_error")
    assert [r.body["model"] for r in setup.upstream.requests] == ["op-model"]


async def test_a_stored_tenant_env_reference_sends_nothing_upstream(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leak = "sk-server-env-SUPERSECRET"
    monkeypatch.setenv("KP_TEST_LEAK", leak)
    served = serve_app(allowed_upstream_hosts="127.0.0.1", allowed_env_refs="*")
    tenant, key = await _tenant(setup, _loopback(setup))
    async with setup.context.sessions() as session:
        row = (
            await session.execute(
                select(ProviderCredential).where(ProviderCredential.org_id == tenant.org_id)
            )
        ).scalar_one()
        row.value = {"kind": "env", "env_var": "KP_TEST_LEAK"}  # as written before the rule
        await session.commit()
    assert (await _chat(http, served, key)).status_code == 200
    (sent,) = setup.upstream.requests
    assert "authorization" not in sent.headers
    assert leak not in repr(sent)
