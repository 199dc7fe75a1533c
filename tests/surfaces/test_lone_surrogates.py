"""A lone UTF-16 surrogate escape ("\\ud800") in a JSON body is a 400 in the surface's own shape on
every surface, and changes nothing; a valid surrogate pair (an emoji) is still accepted."""

from __future__ import annotations

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.surfaces.middleware import has_lone_surrogate
from tests.factories import bearer
from tests.harness import GatewaySetup
from tests.surfaces.shapes import assert_error_shape
from tests.surfaces.test_portal_envelope import PORTAL, login

LONE = '"\\ud800"'
VALUE = '"sk-1234567890"'
# (method, path, body with the lone surrogate, who calls: management key, user session, inference key)
REQUESTS: list[tuple[str, str, str, str]] = [
    ("POST", "/api/v1/keys", f'{{"name": {LONE}}}', "management"),
    ("PATCH", "/api/v1/keys/{key}", f'{{"name": {LONE}}}', "management"),
    ("POST", "/v1/manage/api-keys", f'{{"name": {LONE}}}', "management"),
    ("DELETE", "/v1/manage/api-keys", f'{{"name": {LONE}}}', "management"),
    (
        "PUT",
        "/v1/manage/project-configs",
        f'{{"inference_config": {{"allowed_providers": [{LONE}]}}, "created_at": "2025-01-01T00:00:00Z",'
        ' "updated_at": "2025-01-01T00:00:00Z"}',
        "management",
    ),
    (
        "POST",
        "/api/providers/openai/keys",
        f'{{"name": "n", "value": {LONE}, "models": ["*"]}}',
        "management",
    ),
    (
        "POST",
        "/api/providers/openai/keys",
        f'{{"name": {LONE}, "value": {VALUE}, "models": ["*"]}}',
        "management",
    ),
    (
        "PUT",
        "/api/providers/openai/keys/{credential}",
        f'{{"name": "n", "value": {{"value": {LONE}}}, "models": ["*"]}}',
        "management",
    ),
    ("POST", "/api/v1/workspaces", f'{{"name": {LONE}}}', "management"),
    ("POST", "/api/v1/members", f'{{"email": "a@b.test", "name": {LONE}}}', "management"),
    ("POST", "/api/v1/budgets", f'{{"scope": "org", "limit": 5, "name": {LONE}}}', "management"),
    ("POST", "/api/v1/billing/credits", f'{{"amount": 5, "note": {LONE}}}', "management"),
    ("PUT", "/api/v1/providers/openai/settings", f'{{"base_url": {LONE}}}', "management"),
    ("PATCH", "/api/v1/organizations/current", f'{{"name": {LONE}}}', "management"),
    ("POST", "/api/v1/organizations", f'{{"name": {LONE}, "owner_email": "x@y.test"}}', "management"),
    ("POST", "/api/v1/invitations/accept", f'{{"token": {LONE}, "password": "long-enough-pw"}}', "none"),
    ("POST", "/api/v1/auth/login", f'{{"email": {LONE}, "password": "long-enough-pw"}}', "none"),
    ("POST", f"{PORTAL}/api-keys", f'{{"name": {LONE}, "scopes": ["balance:read"]}}', "user"),
    ("PUT", f"{PORTAL}/api-keys/{{portal_key}}", f'{{"description": {LONE}}}', "user"),
    (
        "POST",
        "/v1/chat/completions",
        f'{{"model": "m", "messages": [{{"role": "user", "content": {LONE}}}]}}',
        "inference",
    ),
    ("POST", "/api/v1/embeddings", f'{{"model": "m", "input": {{{LONE}: 1}}}}', "inference"),
]


async def test_a_lone_surrogate_is_a_400_in_the_surfaces_shape_everywhere(
    gateway_setup: GatewaySetup,
) -> None:
    """One pass over every route (the setup is the slow part), naming each route that got it wrong."""
    client, org = gateway_setup.client, gateway_setup.org
    ids = await _existing_ids(gateway_setup)
    before = await _audit_trail(client, org)
    wrong = []
    for method, path, body, caller in REQUESTS:
        headers = {"content-type": "application/json", **await _headers(gateway_setup, caller, ids)}
        try:
            response = await client.request(
                method, path.format(**ids), content=body.encode(), headers=headers
            )
            assert_error_shape(response, 400)
        except Exception as exc:
            wrong.append(f"{method} {path} {body[:40]}: {exc!r}"[:300])
    assert not wrong, "\n".join(wrong)
    assert await _audit_trail(client, org) == before  # nothing changed


async def test_a_surrogate_pair_is_an_ordinary_character(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    body = b'{"name": "smile \\ud83d\\ude00"}'
    response = await client.post(
        "/api/v1/keys",
        content=body,
        headers={"content-type": "application/json", **bearer(org.management_key)},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "smile \U0001f600"


@pytest.mark.parametrize(
    ("body", "lone"),
    [
        (b'{"a": "\\ud800"}', True),
        (b'{"\\udfff": 1}', True),
        (b'[[["x\\uDBFFy"]]]', True),
        (b'{"a": "\\ud83d\\ude00"}', False),
        (b'{"a": "\\\\ud800"}', False),  # an escaped backslash, then the letters "ud800"
        (b'{"a": "\\ud800', False),  # not JSON at all: the route's parser answers it
        (b"plain text \\ud800", False),
    ],
)
def test_what_counts_as_a_lone_surrogate(body: bytes, lone: bool) -> None:
    assert has_lone_surrogate(body) is lone


async def _audit_trail(client: httpx.AsyncClient, org: BootstrapResult) -> list[str]:
    events = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    return [event["action"] for event in events.json()["data"]]


async def _headers(setup: GatewaySetup, caller: str, ids: dict[str, str]) -> dict[str, str]:
    if caller == "management":
        return setup.admin
    if caller == "user":
        return await login(setup.client, setup.org.email)
    if caller == "inference":
        return bearer(ids["inference_key"])
    return {}


async def _existing_ids(setup: GatewaySetup) -> dict[str, str]:
    """A key, a portal key, a provider credential and an inference key to aim the updates at."""
    created = await setup.client.post("/api/v1/keys", json={"name": "target"}, headers=setup.admin)
    credential = await setup.add_credential(name="target", provider="openai", extra={"models": ["*"]})
    portal = await setup.client.post(
        f"{PORTAL}/api-keys",
        json={"name": "portal", "scopes": ["balance:read"]},
        headers=await login(setup.client, setup.org.email),
    )
    return {
        "key": created.json()["data"]["hash"],
        "credential": credential["id"],
        "portal_key": portal.json()["data"]["id"],
        "inference_key": created.json()["key"],
    }
