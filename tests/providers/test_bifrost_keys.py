"""The Bifrost provider-key API: CRUD, redaction, encryption at rest, list shapes, audit."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import AuditEvent, ProviderCredential
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.secrets import SecretBox
from tests.factories import bearer
from tests.providers.conftest import SECRET, openai_key, raw_rows


async def _create(client: httpx.AsyncClient, org: BootstrapResult, provider: str = "openai", **body: object):  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/api/providers/{provider}/keys", json=body or openai_key(), headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_generates_an_id_and_redacts_the_value(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    key = await _create(client, org)
    assert key["id"] and key["name"] == "prod"
    assert key["value"] == {"value": "sk-p" + "*" * 24 + "fXYZ", "env_var": "", "from_env": False}
    assert key["enabled"] is True and key["weight"] == 1.0 and key["use_for_batch_api"] is False
    assert key["config_hash"] and key["status"] == "" and key["platform"] is False


async def test_server_owned_fields_are_ignored(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create(
        client, org, **openai_key(config_hash="x", status="success", description="forged", id="my-id")
    )
    assert key["id"] == "my-id"
    assert key["status"] == "" and key["description"] == "" and key["config_hash"] != "x"


async def test_short_value_is_fully_masked(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create(client, org, **openai_key(value="abc123"))
    assert key["value"]["value"] == "******"


async def test_env_reference_is_stored_as_reference(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    by_string = await _create(client, org, **openai_key(name="a", value="env.KP_TEST_OPENAI_API_KEY"))
    by_object = await _create(
        client, org, **openai_key(name="b", value={"env_var": "env.KP_TEST_OTHER_KEY", "from_env": True})
    )
    assert by_string["value"] == {"value": "", "env_var": "env.KP_TEST_OPENAI_API_KEY", "from_env": True}
    assert by_object["value"]["env_var"] == "env.KP_TEST_OTHER_KEY"
    rows = {row["name"]: row for row in await raw_rows(context, "provider_credentials")}
    assert "KP_TEST_OPENAI_API_KEY" in str(rows["a"]["value"])


async def test_database_and_responses_hold_no_plaintext_secret(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    texts = []
    created = await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)
    texts.append(created.text)
    azure = {
        "name": "az",
        "value": SECRET + "-azure",
        "azure_key_config": {
            "endpoint": "https://example.openai.azure.com",
            "client_id": "cid",
            "client_secret": {"value": SECRET + "-client"},
            "tenant_id": "tid",
        },
    }
    texts.append((await client.post("/api/providers/azure/keys", json=azure, headers=headers)).text)
    bedrock = {
        "name": "br",
        "bedrock_key_config": {
            "region": "eu-central-1",
            "access_key": "AKIA" + SECRET,
            "secret_key": SECRET + "-bedrock",
            "session_token": SECRET + "-session",
        },
    }
    texts.append((await client.post("/api/providers/bedrock/keys", json=bedrock, headers=headers)).text)
    texts.append((await client.get("/api/keys", headers=headers)).text)
    texts.append((await client.get("/api/providers/azure/keys", headers=headers)).text)
    for body in texts:
        assert "SUPERSECRET" not in body, body
    stored = str(await raw_rows(context, "provider_credentials")) + str(
        await raw_rows(context, "audit_events")
    )
    assert "SUPERSECRET" not in stored
    assert "example.openai.azure.com" in stored  # the endpoint is configuration, not a secret


async def test_redacted_round_trip_keeps_the_stored_secret(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, session
) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(org.management_key)
    azure = {
        "name": "az",
        "value": SECRET,
        "models": ["gpt-4o"],
        "azure_key_config": {
            "endpoint": "https://example.openai.azure.com",
            "api_version": "2024-10-21",
            "client_secret": SECRET + "-client",
        },
    }
    created = (await client.post("/api/providers/azure/keys", json=azure, headers=headers)).json()
    fetched = (await client.get(f"/api/providers/azure/keys/{created['id']}", headers=headers)).json()
    put = await client.put(f"/api/providers/azure/keys/{created['id']}", json=fetched, headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["config_hash"] == created["config_hash"]
    row = (await session.execute(select(ProviderCredential))).scalar_one()
    box = SecretBox(context.secret_key)
    assert box.decrypt(row.value["ciphertext"]) == SECRET
    assert box.decrypt(row.config["azure_key_config"]["client_secret"]["ciphertext"]) == SECRET + "-client"


async def test_put_replaces_the_whole_key(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    created = await _create(client, org, **openai_key(models=["a"], aliases={"x": "y"}, weight=3))
    replaced = await client.put(
        f"/api/providers/openai/keys/{created['id']}",
        json={"name": "renamed", "value": created["value"]},
        headers=headers,
    )
    body = replaced.json()
    assert body["name"] == "renamed" and body["models"] == [] and body["aliases"] == {}
    assert body["weight"] == 1.0 and body["config_hash"] != created["config_hash"]


async def test_a_new_value_replaces_the_secret(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, session
) -> None:  # type: ignore[no-untyped-def]
    created = await _create(client, org)
    await client.put(
        f"/api/providers/openai/keys/{created['id']}",
        json=openai_key(value="sk-brand-new-value-987654321"),
        headers=bearer(org.management_key),
    )
    row = (await session.execute(select(ProviderCredential))).scalar_one()
    assert SecretBox(context.secret_key).decrypt(row.value["ciphertext"]) == "sk-brand-new-value-987654321"


async def test_duplicate_name_is_a_conflict(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    await _create(client, org)
    again = await client.post(
        "/api/providers/anthropic/keys", json=openai_key(), headers=bearer(org.management_key)
    )
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "A key named 'prod' already exists"


async def test_delete_returns_the_deleted_key(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    created = await _create(client, org)
    deleted = await client.delete(f"/api/providers/openai/keys/{created['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["id"] == created["id"]
    assert deleted.json()["value"]["value"] == created["value"]["value"]
    gone = await client.get(f"/api/providers/openai/keys/{created['id']}", headers=headers)
    assert gone.status_code == 404


async def test_list_shapes(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    await _create(client, org)
    await _create(client, org, provider="mistral", **openai_key(name="eu"))
    per_provider = (await client.get("/api/providers/openai/keys", headers=headers)).json()
    assert per_provider["total"] == 1 and [k["name"] for k in per_provider["keys"]] == ["prod"]
    everything = (await client.get("/api/keys", headers=headers)).json()
    assert isinstance(everything, list)
    assert sorted((k["provider"], k["name"]) for k in everything) == [("mistral", "eu"), ("openai", "prod")]


async def test_key_under_another_provider_path_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    created = await _create(client, org)
    response = await client.get(
        f"/api/providers/anthropic/keys/{created['id']}", headers=bearer(org.management_key)
    )
    assert response.status_code == 404


async def test_every_change_is_audited_without_secrets(
    client: httpx.AsyncClient, org: BootstrapResult, session
) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(org.management_key)
    created = await _create(client, org)
    await client.put(f"/api/providers/openai/keys/{created['id']}", json=openai_key(), headers=headers)
    await client.delete(f"/api/providers/openai/keys/{created['id']}", headers=headers)
    events = (
        (await session.execute(select(AuditEvent).where(AuditEvent.object_type == "provider_credential")))
        .scalars()
        .all()
    )
    assert sorted(e.action for e in events) == [
        "provider_credential.created",
        "provider_credential.deleted",
        "provider_credential.updated",
    ]
    assert all(e.org_id == org.org_id and e.object_id == created["id"] for e in events)
    assert "SUPERSECRET" not in str([e.details for e in events])


async def test_vllm_key_needs_no_value(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create(
        client,
        org,
        provider="vllm",
        name="local",
        vllm_key_config={"url": "http://127.0.0.1:8000", "model_name": "llama"},
    )
    assert key["value"] is None
    assert key["vllm_key_config"] == {
        "url": {"value": "http://127.0.0.1:8000", "env_var": "", "from_env": False},
        "model_name": "llama",
    }


async def test_bedrock_batch_s3_config_round_trips(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    buckets = [{"bucket_name": "batch", "prefix": "in/", "is_default": True}]
    key = await _create(
        client,
        org,
        provider="bedrock",
        name="br",
        value="ABSK-bedrock-api-key",  # a Bedrock credential needs a way to authenticate
        bedrock_key_config={"region": "us-east-1", "batch_s3_config": {"buckets": buckets}},
        use_for_batch_api=True,
    )
    assert key["bedrock_key_config"]["batch_s3_config"] == {"buckets": buckets}
    assert key["use_for_batch_api"] is True


async def test_null_collections_mean_empty(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create(
        client, org, **openai_key(models=None, blacklisted_models=None, aliases=None, azure_key_config=None)
    )
    assert key["models"] == [] and key["blacklisted_models"] == [] and key["aliases"] == {}


async def test_azure_with_entra_id_needs_no_value(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create(
        client,
        org,
        provider="azure",
        name="entra",
        azure_key_config={
            "endpoint": "https://example.openai.azure.com",
            "client_id": "app-id",
            "client_secret": "entra-client-secret-value",
            "tenant_id": "tenant",
            "scopes": ["https://cognitiveservices.azure.com/.default"],
        },
    )
    block = key["azure_key_config"]
    assert key["value"] is None and block["client_id"]["value"] == "app-id"
    assert block["client_secret"]["value"] == "entr" + "*" * 24 + "alue"
    assert block["scopes"] == ["https://cognitiveservices.azure.com/.default"]
