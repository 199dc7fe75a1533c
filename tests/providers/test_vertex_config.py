"""Vertex AI credentials are checked at write: a project, a region, and a service account's JSON key
that parses and can sign (400 naming the field otherwise); a tenant's token_uri passes the egress
guard; the key is stored encrypted and answered redacted; discovery is refused with a clear 400."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org
from tests.fakes import vertex as fake
from tests.fakes.dns import FakeDns
from tests.providers.conftest import raw_rows
from tests.providers.test_bad_input import assert_bifrost_error

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
PUBLIC = "93.184.216.34"  # only ever resolved to, never connected to


def _account(**changes: Any) -> dict[str, Any]:
    account: dict[str, Any] = fake.service_account(GOOGLE_TOKEN_URI)
    account.update(changes)
    return {key: value for key, value in account.items() if value is not None}


def _body(auth: Any, **config: Any) -> dict[str, Any]:
    block = {"project_id": fake.PROJECT, "region": fake.REGION, "auth_credentials": auth, **config}
    return {"name": "v", "models": ["gemini-2.0-flash-001"], "vertex_key_config": block}


def _stored_key(row: dict[str, Any]) -> Any:
    config = row["config"]
    return (json.loads(config) if isinstance(config, str) else config)["vertex_key_config"][
        "auth_credentials"
    ]


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "not JSON": (_body("{not json"), "vertex_key_config.auth_credentials must be a service account's JSON"),
    "a JSON list": (_body("[1, 2]"), "vertex_key_config.auth_credentials must be a service account's JSON"),
    "not a service account": (
        _body(json.dumps(_account(type="authorized_user"))),
        'vertex_key_config.auth_credentials.type must be "service_account"',
    ),
    "no client_email": (
        _body(json.dumps(_account(client_email=None))),
        "vertex_key_config.auth_credentials.client_email is required",
    ),
    "no private_key": (
        _body(json.dumps(_account(private_key=None))),
        "vertex_key_config.auth_credentials.private_key is required",
    ),
    "no token_uri": (
        _body(json.dumps(_account(token_uri=None))),
        "vertex_key_config.auth_credentials.token_uri is required",
    ),
    "a token_uri that is no URL": (
        _body(json.dumps(_account(token_uri="file:///etc/passwd"))),
        "vertex_key_config.auth_credentials.token_uri must be an absolute http:// or https:// URL",
    ),
    "a private key that is no key": (
        _body(
            json.dumps(_account(private_key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
        ),
        "vertex_key_config.auth_credentials.private_key is not a PEM RSA private key",
    ),
    "no service account": (
        {"name": "v", "vertex_key_config": {"project_id": fake.PROJECT, "region": fake.REGION}},
        "vertex_key_config.auth_credentials is required",
    ),
    "no region": (
        {"name": "v", "vertex_key_config": {"project_id": fake.PROJECT, "auth_credentials": "{}"}},
        "vertex_key_config.region is required",
    ),
    "a region that steers the host": (
        _body(json.dumps(_account()), region="evil.example.com/x"),
        "vertex_key_config.region must be a region name",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_vertex_credential_is_a_400_naming_the_field(
    case: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    body, fragment = BAD[case]
    response = await client.post("/api/providers/vertex/keys", json=body, headers=bearer(org.management_key))
    error = assert_bifrost_error(response, 400)
    assert fragment in error["error"]["message"]
    assert "PRIVATE KEY" not in response.text
    assert await raw_rows(context, "provider_credentials") == []


async def test_a_service_account_is_stored_encrypted_and_answered_redacted(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    account = json.dumps(_account())
    headers = bearer(org.management_key)
    response = await client.post("/api/providers/vertex/keys", json=_body(account), headers=headers)
    assert response.status_code == 200, response.text
    assert "PRIVATE KEY" not in response.text
    shown = response.json()["vertex_key_config"]
    assert shown["region"]["value"] == fake.REGION and shown["project_id"]["value"] == fake.PROJECT
    (row,) = await raw_rows(context, "provider_credentials")
    assert "PRIVATE KEY" not in str(row["config"])
    # Sent back redacted on update, the stored key is kept (and not re-checked as if it were JSON).
    again = {**_body(shown["auth_credentials"]), "name": "renamed"}
    key_id = response.json()["id"]
    updated = await client.put(f"/api/providers/vertex/keys/{key_id}", json=again, headers=headers)
    assert updated.status_code == 200, updated.text
    (after,) = await raw_rows(context, "provider_credentials")
    assert _stored_key(after) == _stored_key(row)


async def test_a_tenant_token_uri_to_a_private_address_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    body = _body(json.dumps(_account(token_uri="http://169.254.169.254/token")))
    response = await client.post(
        "/api/providers/vertex/keys", json=body, headers=bearer(tenant.management_key)
    )
    error = assert_bifrost_error(response, 400)
    assert error["error"]["type"] == "egress_refused"
    assert "vertex_key_config.auth_credentials.token_uri" in error["error"]["message"]


async def test_a_tenant_may_use_a_public_token_endpoint(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, fake_dns: FakeDns
) -> None:
    fake_dns.answers["oauth2.google.test"] = [PUBLIC]  # Google's endpoint, resolved without a network
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    body = _body(json.dumps(_account(token_uri="https://oauth2.google.test/token")))
    response = await client.post(
        "/api/providers/vertex/keys", json=body, headers=bearer(tenant.management_key)
    )
    assert response.status_code == 200, response.text


async def test_refresh_models_is_a_clear_400_for_vertex(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    response = await client.post(
        "/api/providers/vertex/keys", json=_body(json.dumps(_account())), headers=headers
    )
    assert response.status_code == 200, response.text
    key_id = response.json()["id"]
    refreshed = await client.post(f"/api/providers/vertex/keys/{key_id}/refresh-models", headers=headers)
    error = assert_bifrost_error(refreshed, 400)
    assert "Model discovery is not supported for provider 'vertex'" in error["error"]["message"]
    assert "models" in error["error"]["message"]


async def test_the_operator_may_reference_a_key_in_the_environment_checked_when_set(
    client: httpx.AsyncClient, org: BootstrapResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(org.management_key)
    monkeypatch.setenv("KP_TEST_VERTEX_SA", "not json")
    refused = await client.post(
        "/api/providers/vertex/keys", json=_body("env.KP_TEST_VERTEX_SA"), headers=headers
    )
    assert "must be a service account's JSON key" in assert_bifrost_error(refused, 400)["error"]["message"]
    monkeypatch.setenv("KP_TEST_VERTEX_SA", json.dumps(_account()))
    created = await client.post(
        "/api/providers/vertex/keys", json=_body("env.KP_TEST_VERTEX_SA"), headers=headers
    )
    assert created.status_code == 200, created.text
    assert "PRIVATE KEY" not in created.text
