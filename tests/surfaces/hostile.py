"""Every surface's create and update routes with a valid body each, the rows they aim at, and how
to send one: shared by the hostile-input tests (a hypothesis run and a per-field sweep)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM
from keyplane.project_configs.schemas import InferenceConfigUpdate, ProjectConfigUpdate
from keyplane.project_configs.service import update_project_config
from tests.factories import bearer
from tests.harness import GatewaySetup
from tests.surfaces.shapes import assert_error_shape
from tests.surfaces.test_portal_envelope import PORTAL, login


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may name {key}, {credential}, {portal_key}, {workspace}, {budget}, {member}, {org}
    base: dict[str, Any]  # a valid body: hostile ones are built from it and from nothing
    caller: str = "management"  # or "user" (portal session), "inference", "none"
    segment: str | None = None  # a valid value for {segment} in the path, which is drawn too


ROUTES: dict[str, list[Route]] = {
    "openrouter": [
        Route("POST", "/api/v1/keys", {"name": "k", "limit": 5, "limit_reset": "daily"}),
        Route("PATCH", "/api/v1/keys/{key}", {"name": "k", "disabled": False, "limit": 1}),
    ],
    "cortecs": [
        Route("POST", "/v1/manage/api-keys", {"name": "k", "is_management_key": False}),
        Route("DELETE", "/v1/manage/api-keys", {"name": "k"}),
        Route(
            "PUT",
            "/v1/manage/project-configs",
            {
                "inference_config": {"allowed_providers": ["openai"], "max_tokens": 100},
                "allow_overwrite": False,
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
            },
        ),
    ],
    "portal": [
        Route("POST", f"{PORTAL}/api-keys", {"name": "k", "scopes": ["balance:read"]}, "user"),
        Route("PUT", f"{PORTAL}/api-keys/{{portal_key}}", {"description": "d", "expires_at": 0}, "user"),
        Route("POST", f"{PORTAL}/api-keys/revoke", {"id": "{portal_key}"}, "user"),
        Route("POST", f"{PORTAL}/api-keys/restore", {"id": "{portal_key}"}, "user"),
    ],
    "bifrost": [
        Route(
            "POST",
            "/api/providers/{segment}/keys",
            {"name": "k", "value": "sk-1234567890abcdef", "models": ["*"], "weight": 1.0, "aliases": {}},
            segment="openai",
        ),
        Route(
            "PUT",
            "/api/providers/openai/keys/{credential}",
            {"name": "target", "value": {"value": "sk-1234567890abcdef"}, "models": ["gpt-4o"]},
        ),
        Route(
            "POST",
            "/api/providers/azure/keys",
            {
                "name": "az",
                "value": "k-1234567890",
                "models": ["gpt-4o"],
                "azure_key_config": {"endpoint": "https://x.openai.azure.com", "api_version": "2024-10-21"},
            },
        ),
    ],
    "native": [
        Route("POST", "/api/v1/workspaces", {"name": "w"}),
        Route("PATCH", "/api/v1/workspaces/{workspace}", {"name": "w2"}),
        Route("POST", "/api/v1/members", {"email": "n@acme.test", "role": "member", "name": "N"}),
        Route("PATCH", "/api/v1/members/{member}", {"role": "admin"}),
        Route("POST", "/api/v1/budgets", {"scope": "org", "limit": 5, "reset": "daily", "name": "b"}),
        Route("PATCH", "/api/v1/budgets/{budget}", {"limit": 5, "reset": None, "include_byok": True}),
        Route("POST", "/api/v1/billing/credits", {"amount": 5, "note": "n"}),
        Route("PUT", "/api/v1/billing/exchange-rates/{segment}", {"rate": 1.1}, segment="EUR"),
        Route("PUT", "/api/v1/model-prices/{segment}", {"input": 1, "output": 2, "cached": 0}, segment="m1"),
        Route(
            "PUT", "/api/v1/providers/{segment}/settings", {"base_url": "https://x.example"}, segment="openai"
        ),
        Route("PATCH", "/api/v1/organizations/current", {"name": "Acme"}),
        Route("POST", "/api/v1/organizations", {"name": "T", "owner_email": "o@t.test"}),
        Route("PATCH", "/api/v1/organizations/{org}", {"name": "Acme", "status": "active"}),
        Route("POST", "/api/v1/invitations/accept", {"token": "kp_inv_x", "password": "long-enough"}, "none"),
        Route("POST", "/api/v1/auth/login", {"email": "x@y.test", "password": "long-enough"}, "none"),
    ],
    "gateway": [
        Route(
            "POST",
            "/v1/chat/completions",
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
            "inference",
        ),
        Route("POST", "/api/v1/embeddings", {"model": "gpt-4o", "input": "hi"}, "inference"),
    ],
}


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # escapes surrogates as "\\ud800"


async def make_targets(setup: GatewaySetup) -> dict[str, str]:
    """Rows for the update routes to aim at, and the callers' credentials (one setup per test)."""
    client, admin = setup.client, setup.admin
    key = (await client.post("/api/v1/keys", json={"name": "target"}, headers=admin)).json()
    # The gateway's key lives in a workspace the other routes do not touch, routed to the fake
    # upstream only: the credentials the Bifrost routes write point at real providers.
    workspace_id = (await client.post("/api/v1/workspaces", json={"name": "gw"}, headers=admin)).json()
    gateway_key = await client.post(
        "/api/v1/keys", json={"name": "gateway", "workspace_id": workspace_id["data"]["id"]}, headers=admin
    )
    async with session_scope(setup.context.sessions) as session:
        update = ProjectConfigUpdate(
            inference_config=InferenceConfigUpdate(allowed_providers=["vllm"]),
            created_at="2025-01-01T00:00:00Z",
            updated_at="2025-01-01T00:00:00Z",
        )
        await update_project_config(
            session=session,
            principal=SYSTEM.acting_in(setup.org.org_id),
            workspace_id=workspace_id["data"]["id"],
            update=update,
        )
    credential = await setup.add_credential(name="target", provider="openai", extra={"models": ["*"]})
    await setup.add_credential(name="upstream", models=["gpt-4o"])
    session = await login(client, setup.org.email)
    portal = await client.post(
        f"{PORTAL}/api-keys", json={"name": "portal", "scopes": ["balance:read"]}, headers=session
    )
    workspace = await client.post("/api/v1/workspaces", json={"name": "target"}, headers=admin)
    budget = await client.post("/api/v1/budgets", json={"scope": "org", "limit": 5}, headers=admin)
    await setup.add_credit(100)
    return {
        "key": key["data"]["hash"],
        "inference": gateway_key.json()["key"],
        "credential": credential["id"],
        "portal_key": portal.json()["data"]["id"],
        "session": session["Authorization"],
        "workspace": workspace.json()["data"]["id"],
        "budget": budget.json()["data"]["id"],
        "member": setup.org.user_id,
        "org": setup.org.org_id,
    }


def caller_headers(route: Route, targets: dict[str, str], setup: GatewaySetup) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if route.caller == "management":
        headers.update(setup.admin)
    elif route.caller == "user":
        headers["Authorization"] = targets["session"]
    elif route.caller == "inference":
        headers.update(bearer(targets["inference"]))
    return headers


def fill(text: str, targets: dict[str, str]) -> str:
    for name, value in targets.items():
        text = text.replace("{" + name + "}", value)
    return text


async def send(
    setup: GatewaySetup, targets: dict[str, str], route: Route, body: bytes, segment: str | None = None
) -> httpx.Response:
    """The route called with these body bytes (and path segment); ids filled in, raw bytes kept."""
    path = route.path
    if route.segment is not None:
        raw = (segment if segment is not None else route.segment).encode("utf-8", "surrogatepass")
        path = path.replace("{segment}", quote(raw, safe=""))
    return await setup.client.request(
        route.method,
        fill(path, targets),
        content=fill(body.decode("latin-1"), targets).encode("latin-1"),
        headers=caller_headers(route, targets, setup),
    )


def check(route: Route, what: str, response: httpx.Response) -> str | None:
    """None when the answer is fine (no 5xx, a 4xx in the surface's shape), else what went wrong."""
    if response.status_code >= 500:
        return f"{route.method} {route.path} {what}: {response.status_code} {response.text[:200]}"
    if response.status_code >= 400:
        try:
            assert_error_shape(response)
        except AssertionError as exc:
            return f"{route.method} {route.path} {what}: {exc}"
    return None
