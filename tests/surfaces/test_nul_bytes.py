"""A NUL byte (PostgreSQL text cannot hold one) in any id or query is a 4xx on every surface, never 500."""

from __future__ import annotations

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer

NUL = "%00"
REQUESTS: list[tuple[str, str]] = [
    ("GET", f"/api/v1/keys/a{NUL}b"),
    ("PATCH", f"/api/v1/keys/a{NUL}b"),
    ("DELETE", f"/api/v1/keys/a{NUL}b"),
    ("GET", f"/api/v1/keys?workspace_id=a{NUL}b"),
    ("GET", f"/api/v1/providers/a{NUL}b"),
    ("GET", f"/api/providers/openai/keys/a{NUL}b"),
    ("DELETE", f"/api/providers/openai/keys/a{NUL}b"),
    ("GET", f"/api/providers/a{NUL}b/keys"),
    ("PUT", f"/api/v1/billing/exchange-rates/E{NUL}R"),
    ("GET", f"/api/v1/usage?model=a{NUL}b"),
    ("GET", f"/api/v1/audit-events?object_id=a{NUL}b"),
    ("PATCH", f"/api/v1/workspaces/a{NUL}b"),
    ("PATCH", f"/api/v1/members/a{NUL}b"),
    ("DELETE", f"/api/v1/members/a{NUL}b"),
    ("GET", f"/api/v1/budgets/a{NUL}b"),
    ("DELETE", f"/api/v1/budgets/a{NUL}b"),
    ("PUT", f"/api/v1/model-prices/a{NUL}b"),
    ("DELETE", f"/api/v1/model-prices/a{NUL}b"),
    ("DELETE", f"/api/v1/portal/management/api-keys/a{NUL}b"),
    ("GET", f"/api/v1/portal/management/usage?token_id=a{NUL}b"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS, ids=[f"{m} {p}" for m, p in REQUESTS])
async def test_a_nul_byte_is_a_client_error(
    client: httpx.AsyncClient, org: BootstrapResult, method: str, path: str
) -> None:
    body = {} if method in ("PATCH", "PUT") else None
    response = await client.request(method, path, headers=bearer(org.management_key), json=body)
    assert 400 <= response.status_code < 500, response.text


BODY_REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    ("POST", "/api/v1/keys", {"name": "a\u0000b"}),
    ("POST", "/v1/manage/api-keys", {"name": "a\u0000b"}),
    ("DELETE", "/v1/manage/api-keys", {"name": "a\u0000b"}),
    ("POST", "/api/providers/openai/keys", {"name": "a\u0000b", "value": "sk-1234567890", "models": ["*"]}),
    ("POST", "/api/v1/workspaces", {"name": "a\u0000b"}),
    ("POST", "/api/v1/members", {"email": "a\u0000b@x.test", "role": "member", "password": "long-enough-pw"}),
    ("POST", "/api/v1/budgets", {"scope": "org", "limit": 5, "name": "a\u0000b"}),
    ("POST", "/api/v1/billing/credits", {"amount": 5, "note": "a\u0000b"}),
    ("PUT", "/api/v1/model-prices/m", {"input_per_mtok": 1, "output_per_mtok": 1, "note": "a\u0000b"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), BODY_REQUESTS, ids=[f"{m} {p}" for m, p, _ in BODY_REQUESTS]
)
async def test_a_nul_byte_in_a_json_body_is_never_a_500(
    client: httpx.AsyncClient, org: BootstrapResult, method: str, path: str, body: dict[str, object]
) -> None:
    response = await client.request(method, path, headers=bearer(org.management_key), json=body)
    assert response.status_code < 500, response.text
