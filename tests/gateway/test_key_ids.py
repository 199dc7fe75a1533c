"""Two orgs each with a credential "main": the gateway routes each org to its own, and usage
records which one by the org's own id."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.factories import bearer, make_key, make_org
from tests.harness import GatewaySetup, ServedApp

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_each_org_is_served_by_its_own_main(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    url = f"http://127.0.0.1:{setup.upstream.port}"
    tenant = await make_org(setup.context, name="Tenant", email="owner@tenant.test")
    setup.context.settings.allowed_upstream_hosts = "127.0.0.1"
    for owner, value in ((setup.org, "sk-operator-main"), (tenant, "sk-tenant-main")):
        body = {
            "id": "main",
            "name": "main",
            "value": value,
            "models": ["gpt-test"],
            "vllm_key_config": {"url": url},
        }
        created = await setup.client.post(
            "/api/providers/vllm/keys", json=body, headers=bearer(owner.management_key)
        )
        assert created.status_code == 200, created.text
    keys = {
        setup.org.org_id: (await setup.make_key())[0],
        tenant.org_id: await make_key(setup.context, org_id=tenant.org_id, user_id=tenant.user_id),
    }
    for key in keys.values():
        body = {"model": "gpt-test", "messages": MESSAGES}
        response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
        assert response.status_code == 200, response.text
    sent = [r.headers["authorization"] for r in setup.upstream.requests]
    assert sent == ["Bearer sk-operator-main", "Bearer sk-tenant-main"]
    rows = await setup.wait_for_usage(2)
    assert {(r.org_id, r.credential_id, r.is_byok) for r in rows} == {
        (setup.org.org_id, "main", False),  # the operator's own credentials are the platform's
        (tenant.org_id, "main", True),
    }
