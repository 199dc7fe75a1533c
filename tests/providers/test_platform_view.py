"""A tenant sees a platform credential's name, provider and models only: no value preview, no
config block, no environment names, no URLs. The operator's admins see all of it."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org

ENDPOINT = "https://platform-endpoint.openai.azure.com"
PLATFORM_AZURE = {
    "id": "plat-az",
    "name": "platform azure",
    "value": "sk-platform-SUPERSECRET-0123456789",
    "models": ["gpt-4o"],
    "aliases": {"fast": "internal-deployment-name"},
    "platform": True,
    "azure_key_config": {
        "endpoint": ENDPOINT,
        "client_id": "env.KP_TEST_AZURE_CLIENT_ID",
        "tenant_id": "tid",
        "client_secret": {"value": "platform-client-SUPERSECRET"},
    },
}
REDUCED = {
    "id": "plat-az",
    "name": "platform azure",
    "models": ["gpt-4o"],
    "provider": "azure",
    "platform": True,
}


async def _reader(context: AppContext, org: BootstrapResult, role: str) -> str:
    """A reading key of the org: the owner's management key, or a plain member's."""
    if role == "owner":
        return org.management_key
    user = await add_user(context, org_id=org.org_id, email=f"{role}@{org.org_id}.test", role=role)
    return await make_key(context, org_id=org.org_id, user_id=user, role=role, kind="management", name="r")


@pytest.fixture
async def platform_key(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.post(
        "/api/providers/azure/keys", json=PLATFORM_AZURE, headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("role", ["owner", "member"])
async def test_a_tenant_sees_only_name_provider_and_models(
    role: str, platform_key: None, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    headers = bearer(await _reader(context, tenant, role))
    one = await client.get("/api/providers/azure/keys/plat-az", headers=headers)
    by_provider = await client.get("/api/providers/azure/keys", headers=headers)
    every = await client.get("/api/keys", headers=headers)
    assert one.json() == REDUCED
    assert by_provider.json() == {"keys": [REDUCED], "total": 1}
    assert every.json() == [REDUCED]
    for response in (one, by_provider, every):
        for leak in ("platform-endpoint", "KP_TEST_AZURE_CLIENT_ID", "sk-p", "internal-deployment", "tid"):
            assert leak not in response.text


async def test_a_plain_member_of_the_operator_org_sees_the_same(
    platform_key: None, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(await _reader(context, org, "member"))
    assert (await client.get("/api/providers/azure/keys/plat-az", headers=headers)).json() == REDUCED


async def test_the_operators_admins_see_the_whole_redacted_key(
    platform_key: None, client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    seen = (await client.get("/api/providers/azure/keys/plat-az", headers=bearer(org.management_key))).json()
    assert seen["azure_key_config"]["endpoint"]["value"] == ENDPOINT
    assert seen["azure_key_config"]["client_id"]["env_var"] == "env.KP_TEST_AZURE_CLIENT_ID"
    assert seen["value"]["value"].startswith("sk-p") and "SUPERSECRET" not in str(seen)
