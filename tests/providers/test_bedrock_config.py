"""Bedrock credentials are checked at write: a region, and one complete way to authenticate (an
access key pair, optionally with a session token, or a Bedrock API key in `value`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.providers.conftest import raw_rows
from tests.providers.test_bad_input import assert_bifrost_error

REGION = {"region": "eu-central-1"}
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "missing region": (
        {"bedrock_key_config": {"access_key": "AKIA1", "secret_key": "s"}},
        "bedrock_key_config.region is required",
    ),
    "access key without secret": (
        {"bedrock_key_config": {**REGION, "access_key": "AKIA1"}},
        "bedrock_key_config.secret_key is required with bedrock_key_config.access_key",
    ),
    "secret without access key": (
        {"bedrock_key_config": {**REGION, "secret_key": "s"}},
        "bedrock_key_config.access_key is required with bedrock_key_config.secret_key",
    ),
    "session token alone": (
        {"value": "ABSK-key", "bedrock_key_config": {**REGION, "session_token": "t"}},
        "bedrock_key_config.session_token needs access_key and secret_key",
    ),
    "no way to authenticate": (
        {"bedrock_key_config": REGION},
        "needs bedrock_key_config.access_key and secret_key, or a Bedrock API key in value",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_an_incomplete_bedrock_credential_is_a_400_naming_the_field(
    case: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    body, fragment = BAD[case]
    response = await client.post(
        "/api/providers/bedrock/keys", json={"name": "b", **body}, headers=bearer(org.management_key)
    )
    assert fragment in assert_bifrost_error(response, 400)["error"]["message"]
    assert await raw_rows(context, "provider_credentials") == []


@pytest.mark.parametrize(
    "body",
    [
        {"bedrock_key_config": {**REGION, "access_key": "AKIA1", "secret_key": "s", "session_token": "t"}},
        {"value": "ABSK-key", "bedrock_key_config": REGION},
    ],
)
async def test_access_keys_or_an_api_key_are_enough(
    body: dict[str, Any], client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.post(
        "/api/providers/bedrock/keys", json={"name": "b", **body}, headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text
    assert response.json()["bedrock_key_config"]["secret_key" if "value" not in body else "region"]
