"""load_routable_credentials: what the gateway gets for an org, resolved and decrypted."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.eligibility import eligible_credentials, load_routable_credentials
from tests.factories import bearer, make_org
from tests.providers.conftest import SECRET, openai_key, provider_policy


async def _post(client: httpx.AsyncClient, key: str, provider: str, body: dict[str, object]) -> str:
    response = await client.post(f"/api/providers/{provider}/keys", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    key_id: str = response.json()["id"]
    return key_id


async def _load(context: AppContext, org_id: str):  # type: ignore[no-untyped-def]
    async with context.sessions() as session:
        return await load_routable_credentials(
            session=session,
            org_id=org_id,
            secret_key=context.secret_key,
            policy=provider_policy(context),
            previous_keys=[],
        )


async def test_own_and_platform_credentials_resolved(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    platform = await _post(
        client, org.management_key, "mistral", openai_key(name="plat", platform=True, weight=2)
    )
    own = await _post(
        client,
        other.management_key,
        "openai",
        openai_key(name="mine", value="sk-tenant-own", models=["gpt-4o"], aliases={"fast": "gpt-4o-mini"}),
    )
    await _post(client, other.management_key, "groq", openai_key(name="off", enabled=False))
    await _post(
        client, org.management_key, "openai", openai_key(name="operator-own", value="env.KP_TEST_ROUTE_KEY")
    )
    monkeypatch.setenv("KP_TEST_ROUTE_KEY", "sk-from-env")

    found = {c.id: c for c in await _load(context, other.org_id)}
    assert set(found) == {platform, own}
    mine = found[own]
    assert mine.is_byok and mine.org_id == other.org_id and mine.api_key == "sk-tenant-own"
    assert mine.base_url == "https://api.openai.com/v1" and mine.api_style == "openai"
    plat = found[platform]
    assert not plat.is_byok and plat.api_key == SECRET and plat.eu_native and plat.weight == 2.0
    routes = {(c.id, m) for c, m in eligible_credentials(list(found.values()), "fast")}
    assert routes == {(platform, "fast"), (own, "gpt-4o-mini")}
    # The operator org's own credential is the platform's (not BYOK), and may read the environment.
    operator_own = [c for c in await _load(context, org.org_id) if c.org_id == org.org_id]
    assert [(c.api_key, c.is_byok) for c in operator_own] == [("sk-from-env", False)]


async def test_unset_env_reference_is_skipped(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KP_TEST_MISSING", raising=False)
    await _post(client, org.management_key, "openai", openai_key(value="env.KP_TEST_MISSING"))
    assert await _load(context, org.org_id) == []


async def test_base_url_override_and_azure_config(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    await client.put(
        "/api/v1/providers/groq/settings", json={"base_url": "http://127.0.0.1:9/v1"}, headers=headers
    )
    await _post(client, org.management_key, "groq", openai_key(name="g"))
    await _post(
        client,
        org.management_key,
        "azure",
        openai_key(
            name="az",
            azure_key_config={"endpoint": "https://x.openai.azure.com/", "api_version": "2024-10-21"},
        ),
    )
    await _post(
        client, org.management_key, "sgl", {"name": "s", "sgl_key_config": {"url": "http://10.0.0.1:30000"}}
    )
    found = {c.provider: c for c in await _load(context, org.org_id)}
    assert found["groq"].base_url == "http://127.0.0.1:9/v1"
    assert found["azure"].base_url == "https://x.openai.azure.com"
    assert found["azure"].azure_api_version == "2024-10-21" and found["azure"].api_style == "azure"
    assert found["sgl"].base_url == "http://10.0.0.1:30000/v1" and found["sgl"].api_key is None
