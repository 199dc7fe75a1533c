"""Environment references: a tenant can never read the server's environment; the operator reads
only the names it lists in KEYPLANE_ALLOWED_ENV_REFS, and never KEYPLANE_* (refused when written,
and resolved to nothing when a stored reference is not allowed, whenever it was written)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import ProviderCredential
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.eligibility import load_routable_credentials
from keyplane.providers.policy import ProviderPolicy
from tests.factories import bearer, make_org
from tests.providers.conftest import openai_key, provider_policy
from tests.providers.test_bad_input import assert_bifrost_error

LEAK = "sk-server-side-SUPERSECRET-value"

# Every way to write a reference, in every kind of EnvVar field: (provider, body).
TENANT_REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "value as env.NAME": ("openai", openai_key(value="env.KEYPLANE_SECRET_KEY")),
    "value as object": ("openai", openai_key(value={"from_env": True, "env_var": "KEYPLANE_DATABASE_URL"})),
    "value as bare env_var": ("openai", openai_key(value={"env_var": "env.KP_TEST_PLATFORM_KEY"})),
    "azure secret": (
        "azure",
        openai_key(
            azure_key_config={
                "endpoint": "https://93.184.216.34",
                "client_id": "c",
                "tenant_id": "t",
                "client_secret": {"from_env": True, "env_var": "KP_TEST_PLATFORM_KEY"},
            }
        ),
    ),
    "vllm url": ("vllm", {"name": "v", "vllm_key_config": {"url": "env.KP_TEST_INTERNAL_URL"}}),
    "bedrock access key": (
        "bedrock",
        {"name": "b", "bedrock_key_config": {"region": "eu-west-1", "access_key": "env.AWS_ACCESS_KEY_ID"}},
    ),
}


async def _tenant(context: AppContext) -> BootstrapResult:
    return await make_org(context, name="Tenant", email="owner@tenant.test")


@pytest.mark.parametrize("case", sorted(TENANT_REFERENCES))
async def test_a_tenant_env_reference_is_refused(
    case: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    provider, body = TENANT_REFERENCES[case]
    response = await client.post(
        f"/api/providers/{provider}/keys", json=body, headers=bearer(tenant.management_key)
    )
    error = assert_bifrost_error(response, 400)
    assert error["error"]["type"] == "env_reference_refused"
    assert "reserved to the operator organization" in error["error"]["message"]
    listed = await client.get("/api/keys", headers=bearer(tenant.management_key))
    assert [k for k in listed.json() if not k["platform"]] == []


async def test_a_tenant_cannot_put_a_reference_onto_its_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await _tenant(context)
    headers = bearer(tenant.management_key)
    created = await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)
    path = f"/api/providers/openai/keys/{created.json()['id']}"
    replaced = await client.put(path, json=openai_key(value="env.KP_TEST_PLATFORM_KEY"), headers=headers)
    assert_bifrost_error(replaced, 400)
    assert (await client.get(path, headers=headers)).json()["value"] == created.json()["value"]


@pytest.mark.parametrize("name", ["KEYPLANE_SECRET_KEY", "keyplane_database_url", "KEYPLANE_X"])
async def test_keyplane_settings_are_never_referenced_even_when_listed(
    name: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    context.settings.allowed_env_refs = "*"
    response = await client.post(
        "/api/providers/openai/keys", json=openai_key(value=f"env.{name}"), headers=bearer(org.management_key)
    )
    error = assert_bifrost_error(response, 400)
    assert "KEYPLANE_* variables are keyplane's own" in error["error"]["message"]


async def test_the_operator_references_only_listed_names(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    refused = await client.post(
        "/api/providers/openai/keys", json=openai_key(value="env.HOME"), headers=headers
    )
    error = assert_bifrost_error(refused, 400)
    assert "'HOME' is not in KEYPLANE_ALLOWED_ENV_REFS" in error["error"]["message"]
    listed = await client.post(
        "/api/providers/openai/keys", json=openai_key(value="env.KP_TEST_OPENAI_KEY"), headers=headers
    )
    assert listed.status_code == 200, listed.text


async def test_by_default_no_name_is_allowed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    context.settings.allowed_env_refs = ""  # the default
    response = await client.post(
        "/api/providers/openai/keys",
        json=openai_key(value="env.KP_TEST_OPENAI_KEY"),
        headers=bearer(org.management_key),
    )
    assert_bifrost_error(response, 400)


async def _store_reference(context: AppContext, name: str, env_var: str) -> None:
    """Write a reference straight into a row, as an older version of keyplane could have."""
    async with context.sessions() as session:
        row = (
            await session.execute(select(ProviderCredential).where(ProviderCredential.name == name))
        ).scalar_one()
        row.value = {"kind": "env", "env_var": env_var}
        await session.commit()


async def _resolved(context: AppContext, org_id: str, policy: ProviderPolicy) -> dict[str, str | None]:
    async with context.sessions() as session:
        found = await load_routable_credentials(
            session=session, org_id=org_id, secret_key=context.secret_key, policy=policy, previous_keys=[]
        )
    return {c.id: c.api_key for c in found}


async def test_a_stored_tenant_reference_resolves_to_nothing(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await _tenant(context)
    headers = bearer(tenant.management_key)
    for name in ("openai-own", "vllm-own"):
        body = openai_key(name=name) if name == "openai-own" else {"name": name, "value": "sk-v"}
        if name == "vllm-own":
            body["vllm_key_config"] = {"url": "https://93.184.216.34"}
        provider = name.split("-")[0]
        assert (
            await client.post(f"/api/providers/{provider}/keys", json=body, headers=headers)
        ).status_code == 200
        await _store_reference(context, name, "KP_TEST_PLATFORM_KEY")
    monkeypatch.setenv("KP_TEST_PLATFORM_KEY", LEAK)
    everything = ProviderPolicy.from_settings(context.settings.model_copy(update={"allowed_env_refs": "*"}))
    found = await _resolved(context, tenant.org_id, everything)
    # openai needs a value: skipped; vllm works without one: used, but with no key at all.
    assert list(found.values()) == [None]
    assert LEAK not in repr(found)


async def test_a_stored_operator_reference_no_longer_listed_resolves_to_nothing(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = bearer(org.management_key)
    for name in ("listed", "secret-key"):
        body = openai_key(name=name, value="env.KP_TEST_OPENAI_KEY")
        assert (
            await client.post("/api/providers/openai/keys", json=body, headers=headers)
        ).status_code == 200
    await _store_reference(context, "secret-key", "KEYPLANE_SECRET_KEY")
    monkeypatch.setenv("KP_TEST_OPENAI_KEY", "sk-operator")
    monkeypatch.setenv("KEYPLANE_SECRET_KEY", LEAK)
    now = await _resolved(
        context,
        org.org_id,
        ProviderPolicy.from_settings(context.settings.model_copy(update={"allowed_env_refs": "*"})),
    )
    assert sorted(v or "" for v in now.values()) == ["sk-operator"]  # KEYPLANE_* never, even under "*"
    assert await _resolved(context, org.org_id, provider_policy(context)) != {}
    context.settings.allowed_env_refs = "OTHER_*"
    assert await _resolved(context, org.org_id, provider_policy(context)) == {}
