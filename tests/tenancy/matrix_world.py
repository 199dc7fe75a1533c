"""The callers and objects of the authorization matrix: two orgs, every role, one key per missing scope.

Built once per backend through the public APIs where one exists (onboarding, keys, budgets,
credentials, invitations); the matrix then addresses each caller's own org's objects, so a refusal
is a 401/403 and never a cross-org 404 (cross-org is tested on its own).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.scopes import ALL_SCOPES
from keyplane.keys.validation import MAX_SCOPES
from keyplane.models import ApiKey, ProviderCredential
from tests.factories import add_user, bearer, bootstrap_org, make_key
from tests.tenancy.helpers import onboard

TENANT, OPERATOR = "tenant", "operator"
MISSING_ID = "00000000-0000-4000-8000-000000000000"
MISSING_HASH = "0" * 64


class Level(enum.Enum):
    """Who may call a route (scopes, when a rule names them, come on top)."""

    PUBLIC = "anyone, no credentials"
    AUTHENTICATED = "any valid bearer: a key of either kind or a user session"
    ANY_KEY = "an inference or a management key, not a user session"
    INFERENCE_KEY = "an inference key (the gateway)"
    USER_SESSION = "a user session JWT (portal key management, /auth/me)"
    MANAGEMENT_KEY = "any management key of the org, members included"
    ORG_ADMIN = "a management key whose creator is an owner or admin of its org"
    OPERATOR_ADMIN = "a management key of an owner or admin of the operator org"
    # The dashboard reads no bearer token at all: a session cookie (and a CSRF token on a POST).
    DASHBOARD_PUBLIC = "the dashboard's sign-in page: anyone (its POST needs the page's CSRF token)"
    DASHBOARD = "a dashboard session of any member of the org"
    DASHBOARD_ADMIN = "a dashboard session of an owner or admin of the org"
    DASHBOARD_OPERATOR = "a dashboard session of an owner or admin of the operator org"


# The callers every route is tried with; LACKS_SCOPE is added for rules that name a scope.
ANONYMOUS, INFERENCE, SESSION = "anonymous", "inference_key", "user_session"
MEMBER, ADMIN, OWNER = "tenant_member", "tenant_admin", "tenant_owner"
OPERATOR_MEMBER, OPERATOR_ADMIN = "operator_member", "operator_admin"
LACKS_SCOPE = "key_lacking_scope"
CALLERS = (ANONYMOUS, INFERENCE, SESSION, MEMBER, ADMIN, OWNER, OPERATOR_MEMBER, OPERATOR_ADMIN)
KEY_CALLERS = frozenset({INFERENCE, MEMBER, ADMIN, OWNER, OPERATOR_MEMBER, OPERATOR_ADMIN})
MANAGEMENT_CALLERS = frozenset({MEMBER, ADMIN, OWNER, OPERATOR_MEMBER, OPERATOR_ADMIN})

ALLOWED: dict[Level, frozenset[str]] = {
    Level.PUBLIC: frozenset(CALLERS),
    Level.AUTHENTICATED: frozenset(CALLERS) - {ANONYMOUS},
    Level.ANY_KEY: KEY_CALLERS,
    Level.INFERENCE_KEY: frozenset({INFERENCE}),
    Level.USER_SESSION: frozenset({SESSION}),
    Level.MANAGEMENT_KEY: MANAGEMENT_CALLERS,
    Level.ORG_ADMIN: frozenset({ADMIN, OWNER, OPERATOR_ADMIN}),
    Level.OPERATOR_ADMIN: frozenset({OPERATOR_ADMIN}),
    # No bearer caller reaches a dashboard route: tests/surfaces/dashboard checks the sessions.
    Level.DASHBOARD_PUBLIC: frozenset(),
    Level.DASHBOARD: frozenset(),
    Level.DASHBOARD_ADMIN: frozenset(),
    Level.DASHBOARD_OPERATOR: frozenset(),
}
CALLER_ORG = {
    INFERENCE: TENANT,
    SESSION: TENANT,
    MEMBER: TENANT,
    ADMIN: TENANT,
    OWNER: TENANT,
    OPERATOR_MEMBER: OPERATOR,
    OPERATOR_ADMIN: OPERATOR,
}


@dataclass
class World:
    client: httpx.AsyncClient
    context: AppContext
    tokens: dict[str, str] = field(default_factory=dict)
    # (org, scopes the key lacks) -> a key of an owner of that org holding every other scope
    lacking: dict[tuple[str, frozenset[str]], str] = field(default_factory=dict)
    objects: dict[str, dict[str, str]] = field(default_factory=lambda: {TENANT: {}, OPERATOR: {}})

    def headers(self, caller: str) -> dict[str, str]:
        return bearer(self.tokens[caller]) if caller in self.tokens else {}


async def _post(world: World, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await world.client.post(path, headers=bearer(token), json=body)
    assert response.status_code in (200, 201), f"{path}: {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


async def _user_id(world: World, session_token: str) -> str:
    response = await world.client.get("/api/v1/auth/me", headers=bearer(session_token))
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


async def _key_id(context: AppContext, plaintext: str) -> str:
    async with session_scope(context.sessions) as session:
        query = select(ApiKey.id).where(ApiKey.hash == hash_key(plaintext))
        return str((await session.execute(query)).scalar_one())


async def _dead_credential(context: AppContext, org_id: str, name: str) -> str:
    """A credential without a usable value: refresh-models fails at once, never calling out."""
    async with session_scope(context.sessions) as session:
        row = ProviderCredential(id=f"dead-{org_id}", org_id=org_id, provider="openai", name=name, value=None)
        session.add(row)
    return row.id


async def _org_objects(
    world: World, org: str, org_id: str, workspace_id: str, owner_id: str, owner_key: str
) -> None:
    """The objects of one org the matrix addresses: targets to change, victims only refused callers hit."""
    objects = world.objects[org]
    context = world.context
    for name in ("key", "victim_key"):
        created = await _post(world, owner_key, "/api/v1/keys", {"name": f"{org} {name}"})
        objects[name] = created["data"]["hash"]
    for name in ("budget", "victim_budget"):
        created = await _post(
            world, owner_key, "/api/v1/budgets", {"scope": "org", "limit": 1000, "name": f"{org} {name}"}
        )
        objects[name] = created["data"]["id"]
    for name in ("webhook", "victim_webhook"):
        created = await _post(
            world,
            owner_key,
            "/api/v1/webhooks",
            {"url": "https://93.184.216.34/matrix", "events": ["budget.threshold"], "description": name},
        )
        objects[name] = created["data"]["id"]
    for name in ("credential", "victim_credential"):
        created = await _post(
            world, owner_key, "/api/providers/openai/keys", credential_body(f"{org} {name}")
        )
        objects[name] = created["id"]
    objects["dead_credential"] = await _dead_credential(context, org_id, f"{org} dead credential")
    invited = await _post(
        world, owner_key, "/api/v1/members", {"email": f"invitee@{org}.test", "role": "member"}
    )
    objects["invitation"] = invited["invitation"]["id"]
    objects["victim_member"] = await add_user(context, org_id=org_id, email=f"victim@{org}.test")
    objects["owner"] = owner_id
    objects["workspace"] = workspace_id
    objects["org"] = org_id


def scopes_without(missing: frozenset[str]) -> list[str]:
    """Every other scope a key may list, its neighbours first (lacking orgs:write keeps orgs:read)."""
    resources = {scope.split(":")[0] for scope in missing}
    others = [scope for scope in ALL_SCOPES if scope not in missing]
    others.sort(key=lambda scope: scope.split(":")[0] not in resources)
    return others[:MAX_SCOPES]


def credential_body(name: str) -> dict[str, Any]:
    """A valid BYOK credential; its model is never asked for, so nothing is ever sent upstream."""
    return {"name": name, "value": "sk-matrix-not-a-real-key", "models": ["matrix-unused-model"]}


async def build_world(
    client: httpx.AsyncClient, context: AppContext, scope_sets: Iterable[frozenset[str]]
) -> World:
    """Operator org + an onboarded tenant, a key for every caller and one per scope set left out."""
    world = World(client=client, context=context)
    operator = await bootstrap_org(context)
    tenant = await onboard(client, operator)
    tenant_owner = await _user_id(world, tenant.session_token)
    owners = {OPERATOR: (operator.org_id, operator.user_id), TENANT: (tenant.org_id, tenant_owner)}
    workspaces = {OPERATOR: operator.workspace_id, TENANT: tenant.workspace_id}

    async def key(org: str, user_id: str, kind: str = "management", scopes: list[str] | None = None) -> str:
        return await make_key(
            context, org_id=owners[org][0], user_id=user_id, kind=kind, name=f"matrix {kind}", scopes=scopes
        )

    async def user(org: str, email: str, role: str) -> str:
        return await add_user(context, org_id=owners[org][0], email=email, role=role)

    world.tokens[SESSION] = tenant.session_token
    world.tokens[INFERENCE] = await key(TENANT, tenant_owner, kind="inference")
    world.tokens[OWNER] = await key(TENANT, tenant_owner)
    world.tokens[ADMIN] = await key(TENANT, await user(TENANT, "admin@tenant.test", "admin"))
    world.tokens[OPERATOR_ADMIN] = await key(OPERATOR, operator.user_id)
    for org, caller in ((TENANT, MEMBER), (OPERATOR, OPERATOR_MEMBER)):
        member = await user(org, f"member@{org}.test", "member")
        world.objects[org]["member"] = member  # the member caller's own user: what it would promote
        world.tokens[caller] = await key(org, member)
    for org in (TENANT, OPERATOR):  # scoped keys belong to a second owner: no caps shared with the first
        keysmith = await user(org, f"keysmith@{org}.test", "owner")
        for missing in set(scope_sets):
            world.lacking[(org, missing)] = await key(org, keysmith, scopes=scopes_without(missing))
        org_id, owner_id = owners[org]
        owner_key = world.tokens[OWNER if org == TENANT else OPERATOR_ADMIN]
        await _org_objects(world, org, org_id, workspaces[org], owner_id, owner_key)
    world.objects[OPERATOR]["portal_key"] = await _key_id(context, world.tokens[OPERATOR_ADMIN])
    operator_objects = world.objects[OPERATOR]
    platform = await _post(
        world,
        world.tokens[OPERATOR_ADMIN],
        "/api/providers/openai/keys",
        {**credential_body("platform credential"), "platform": True},
    )
    operator_objects["platform_credential"] = platform["id"]
    price = await client.put(
        "/api/v1/model-prices/matrix-victim-model",
        headers=world.headers(OPERATOR_ADMIN),
        json={"input": 1, "output": 2},
    )
    assert price.status_code == 200, price.text
    for org in (TENANT, OPERATOR):
        world.objects[org]["tenant_org"] = tenant.org_id
        world.objects[org]["victim_price"] = "matrix-victim-model"
    return world
