"""Every route of the app, called as every kind of caller, answers by its declared rule.

RULES names, for each (method, path template) of the route table, who may call it and a valid sample
request. A route without a rule fails `test_every_route_has_a_rule`, so a new route cannot ship
without someone deciding who may call it. Callers below a rule get 401/403 in their surface's error
shape; callers at or above it get a success (or a 404 for a missing object, or what `ok` names).
Each caller addresses its own org's objects; other orgs' objects are a 404 (tested at the end).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.routing import Route

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.surfaces.gateway.asgi import ROUTES as GATEWAY_ROUTES
from tests import backends
from tests.tenancy.helpers import TENANT_PASSWORD
from tests.tenancy.matrix_world import (
    ADMIN,
    ALLOWED,
    ANONYMOUS,
    CALLER_ORG,
    CALLERS,
    LACKS_SCOPE,
    MEMBER,
    MISSING_HASH,
    MISSING_ID,
    OPERATOR,
    OPERATOR_ADMIN,
    OPERATOR_MEMBER,
    OWNER,
    SESSION,
    TENANT,
    Level,
    World,
    build_world,
    credential_body,
)

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
BACKEND_NAMES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Rule:
    """Who may call one route, and a request that succeeds for them.

    `path` values starting with "@" name an object of the caller's own org (matrix_world);
    `missing` replaces them for allowed callers of destructive routes (a 404 then means
    "allowed, nothing there"), so only refused callers ever address the real victim.
    "{caller}" in a body is the caller's name, so each creation is a new object.
    """

    level: Level
    scopes: tuple[str, ...] = ()  # any one of them is enough; a key lacking all is refused
    body: Any = None
    attack: Any = None  # what refused callers send instead of `body` (the change they would want)
    path: Mapping[str, str] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = ()  # answers besides 2xx that still mean "allowed"


PUBLIC, AUTHENTICATED, ANY_KEY = Level.PUBLIC, Level.AUTHENTICATED, Level.ANY_KEY
INFERENCE_KEY, USER_SESSION = Level.INFERENCE_KEY, Level.USER_SESSION
MANAGEMENT_KEY, ORG_ADMIN, OPERATOR_ONLY = Level.MANAGEMENT_KEY, Level.ORG_ADMIN, Level.OPERATOR_ADMIN
DASH_PUBLIC, DASH = Level.DASHBOARD_PUBLIC, Level.DASHBOARD
DASH_ADMIN, DASH_OPERATOR = Level.DASHBOARD_ADMIN, Level.DASHBOARD_OPERATOR

OPENAI = {"provider": "openai"}
WEBHOOK = {"url": "https://93.184.216.34/matrix", "events": ["budget.threshold"]}
CHAT = {"model": "matrix/no-such-model", "messages": [{"role": "user", "content": "hi"}]}
EMBED = {"model": "matrix/no-such-model", "input": "hi"}
MESSAGES = {
    "model": "matrix/no-such-model",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}
CONFIG = {"inference_config": {}, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}
ORGS_READ = ("orgs:read", "orgs:write")  # orgs:write implies reading them

RULES: dict[tuple[str, str], Rule] = {
    # operations and the schema: open to anyone
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/metrics"): Rule(PUBLIC),
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("GET", "/docs"): Rule(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Rule(PUBLIC),
    ("GET", "/redoc"): Rule(PUBLIC),
    # sessions
    ("POST", "/api/v1/auth/login"): Rule(
        PUBLIC, body={"email": "boss@globex.test", "password": TENANT_PASSWORD}
    ),
    ("GET", "/api/v1/auth/me"): Rule(USER_SESSION),
    # the token is the credential; a made-up one is the same 400 as a used or expired one
    ("POST", "/api/v1/invitations/accept"): Rule(
        PUBLIC, body={"token": "kp_inv_made-up", "password": "any-password-1"}, ok=(400,)
    ),
    # OpenRouter keys API: members manage their own keys (another's is a 404 to them)
    ("GET", "/api/v1/keys"): Rule(MANAGEMENT_KEY, ("keys:read",)),
    ("POST", "/api/v1/keys"): Rule(MANAGEMENT_KEY, ("keys:write",), body={"name": "matrix created"}),
    ("GET", "/api/v1/keys/{key_hash}"): Rule(
        MANAGEMENT_KEY, ("keys:read",), path={"key_hash": "@key"}, ok=(404,)
    ),
    ("PATCH", "/api/v1/keys/{key_hash}"): Rule(
        MANAGEMENT_KEY,
        ("keys:write",),
        body={"name": "matrix target"},
        attack={"disabled": True},
        path={"key_hash": "@key"},
        ok=(404,),
    ),
    ("DELETE", "/api/v1/keys/{key_hash}"): Rule(
        MANAGEMENT_KEY, ("keys:write",), path={"key_hash": "@victim_key"}, missing={"key_hash": MISSING_HASH}
    ),
    # rotating changes the key's hash: allowed callers rotate nothing (404), refused ones the victim
    ("POST", "/api/v1/keys/{key_hash}/rotate"): Rule(
        MANAGEMENT_KEY,
        ("keys:write",),
        body={"grace_seconds": 0},
        path={"key_hash": "@victim_key"},
        missing={"key_hash": MISSING_HASH},
    ),
    ("GET", "/api/v1/key"): Rule(ANY_KEY),
    # the provider catalog is readable by any caller; base URLs are the operator's alone
    ("GET", "/api/v1/providers"): Rule(AUTHENTICATED),
    ("GET", "/api/v1/providers/{provider}"): Rule(AUTHENTICATED, path=OPENAI),
    ("PUT", "/api/v1/providers/{provider}/settings"): Rule(
        OPERATOR_ONLY, ("providers:write",), body={"base_url": None}, path=OPENAI
    ),
    # Bifrost provider credentials: members read (redacted), owners/admins write
    ("GET", "/api/keys"): Rule(MANAGEMENT_KEY, ("providers:read",)),
    ("GET", "/api/providers/{provider}/keys"): Rule(MANAGEMENT_KEY, ("providers:read",), path=OPENAI),
    ("POST", "/api/providers/{provider}/keys"): Rule(
        ORG_ADMIN, ("providers:write",), body=credential_body("matrix {caller}"), path=OPENAI
    ),
    ("GET", "/api/providers/{provider}/keys/{key_id}"): Rule(
        MANAGEMENT_KEY, ("providers:read",), path={**OPENAI, "key_id": "@credential"}
    ),
    ("PUT", "/api/providers/{provider}/keys/{key_id}"): Rule(
        ORG_ADMIN,
        ("providers:write",),
        body=credential_body("matrix replaced"),
        path={**OPENAI, "key_id": "@credential"},
    ),
    ("DELETE", "/api/providers/{provider}/keys/{key_id}"): Rule(
        ORG_ADMIN,
        ("providers:write",),
        path={**OPENAI, "key_id": "@victim_credential"},
        missing={"key_id": MISSING_ID},
    ),
    ("POST", "/api/providers/{provider}/keys/{key_id}/refresh-models"): Rule(
        ORG_ADMIN, ("providers:write",), path={**OPENAI, "key_id": "@dead_credential"}
    ),
    # credits, activity, balance, ledger: any management key (members see their own share)
    ("GET", "/api/v1/credits"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    ("GET", "/api/v1/activity"): Rule(MANAGEMENT_KEY, ("usage:read",)),
    ("GET", "/api/v1/billing/balance"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    ("GET", "/api/v1/billing/ledger"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    ("GET", "/api/v1/billing/exchange-rates"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    # global money tables: the operator's alone
    ("POST", "/api/v1/billing/credits"): Rule(OPERATOR_ONLY, ("billing:write",), body={"amount": 1.0}),
    ("PUT", "/api/v1/billing/exchange-rates/{currency_code}"): Rule(
        OPERATOR_ONLY, ("billing:write",), body={"rate": 0.9}, path={"currency_code": "EUR"}
    ),
    ("GET", "/api/v1/model-prices"): Rule(MANAGEMENT_KEY),
    ("PUT", "/api/v1/model-prices/{model}"): Rule(
        OPERATOR_ONLY, ("billing:write",), body={"input": 1, "output": 2}, path={"model": "matrix-model"}
    ),
    ("DELETE", "/api/v1/model-prices/{model}"): Rule(
        OPERATOR_ONLY,
        ("billing:write",),
        path={"model": "@victim_price"},
        missing={"model": "matrix-missing-model"},
    ),
    # usage and audit
    ("GET", "/api/v1/usage"): Rule(MANAGEMENT_KEY, ("usage:read",)),
    ("GET", "/api/v1/usage/export.csv"): Rule(MANAGEMENT_KEY, ("usage:read",)),
    ("GET", "/api/v1/audit-events"): Rule(ORG_ADMIN, ("audit:read",)),
    # the caller's own org, workspaces and members
    ("GET", "/api/v1/organizations/current"): Rule(MANAGEMENT_KEY),
    ("PATCH", "/api/v1/organizations/current"): Rule(ORG_ADMIN, ("orgs:write",), body={"name": "Matrix Org"}),
    ("GET", "/api/v1/workspaces"): Rule(MANAGEMENT_KEY),
    ("POST", "/api/v1/workspaces"): Rule(ORG_ADMIN, ("orgs:write",), body={"name": "matrix {caller}"}),
    ("PATCH", "/api/v1/workspaces/{workspace_id}"): Rule(
        ORG_ADMIN, ("orgs:write",), body={"name": "Default"}, path={"workspace_id": "@workspace"}
    ),
    ("GET", "/api/v1/members"): Rule(ORG_ADMIN, ORGS_READ),
    ("POST", "/api/v1/members"): Rule(
        ORG_ADMIN, ("orgs:write",), body={"email": "{caller}@invited.test", "role": "member"}
    ),
    ("PATCH", "/api/v1/members/{user_id}"): Rule(
        ORG_ADMIN,
        ("orgs:write",),
        body={"role": "member"},
        attack={"role": "admin"},  # the member caller promoting itself
        path={"user_id": "@member"},
    ),
    ("DELETE", "/api/v1/members/{user_id}"): Rule(
        ORG_ADMIN, ("orgs:write",), path={"user_id": "@victim_member"}, missing={"user_id": MISSING_ID}
    ),
    ("GET", "/api/v1/invitations"): Rule(ORG_ADMIN, ORGS_READ),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Rule(
        ORG_ADMIN,
        ("orgs:write",),
        path={"invitation_id": "@invitation"},
        missing={"invitation_id": MISSING_ID},
    ),
    # tenant orgs: the operator's
    ("POST", "/api/v1/organizations"): Rule(
        OPERATOR_ONLY, ("orgs:write",), body={"name": "Matrix Tenant", "owner_email": "o@matrix.test"}
    ),
    ("GET", "/api/v1/organizations"): Rule(OPERATOR_ONLY, ORGS_READ),
    ("GET", "/api/v1/organizations/{org_id}"): Rule(OPERATOR_ONLY, ORGS_READ, path={"org_id": "@tenant_org"}),
    ("PATCH", "/api/v1/organizations/{org_id}"): Rule(
        OPERATOR_ONLY,
        ("orgs:write",),
        body={"name": "Globex"},
        attack={"status": "suspended"},
        path={"org_id": "@tenant_org"},
    ),
    # budgets: owners/admins; changing one takes billing:write
    ("GET", "/api/v1/budgets"): Rule(ORG_ADMIN),
    ("POST", "/api/v1/budgets"): Rule(ORG_ADMIN, ("billing:write",), body={"scope": "org", "limit": 5}),
    ("GET", "/api/v1/budgets/{budget_id}"): Rule(ORG_ADMIN, path={"budget_id": "@budget"}),
    ("PATCH", "/api/v1/budgets/{budget_id}"): Rule(
        ORG_ADMIN,
        ("billing:write",),
        body={"name": "matrix budget"},
        attack={"limit": 1_000_000},
        path={"budget_id": "@budget"},
    ),
    ("DELETE", "/api/v1/budgets/{budget_id}"): Rule(
        ORG_ADMIN,
        ("billing:write",),
        path={"budget_id": "@victim_budget"},
        missing={"budget_id": MISSING_ID},
    ),
    # webhooks: owners/admins of the org (the endpoint's URL is where keyplane will send requests)
    ("GET", "/api/v1/webhooks"): Rule(ORG_ADMIN),
    ("POST", "/api/v1/webhooks"): Rule(ORG_ADMIN, body=WEBHOOK),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Rule(
        ORG_ADMIN, path={"webhook_id": "@victim_webhook"}, missing={"webhook_id": MISSING_ID}
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Rule(ORG_ADMIN, path={"webhook_id": "@webhook"}),
    # Cortecs: a member's own keys; the project config is an admin's while allow_overwrite is false
    ("GET", "/v1/manage/api-keys"): Rule(MANAGEMENT_KEY, ("keys:read",)),
    ("POST", "/v1/manage/api-keys"): Rule(MANAGEMENT_KEY, ("keys:write",), body={"name": "matrix cortecs"}),
    ("DELETE", "/v1/manage/api-keys"): Rule(
        MANAGEMENT_KEY, ("keys:write",), body={"name": "matrix no such key"}, ok=(404,)
    ),
    ("GET", "/v1/manage/project-configs"): Rule(MANAGEMENT_KEY, ("settings:read",)),
    ("PUT", "/v1/manage/project-configs"): Rule(ORG_ADMIN, ("settings:write",), body=CONFIG),
    ("GET", "/v1/manage/users/balance"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    # portal: key management with the user's session; balance and usage with a management key
    ("GET", "/api/v1/portal/management/api-keys"): Rule(USER_SESSION),
    ("POST", "/api/v1/portal/management/api-keys"): Rule(USER_SESSION, body={"name": "matrix portal"}),
    ("POST", "/api/v1/portal/management/api-keys/revoke"): Rule(
        USER_SESSION, body={"id": MISSING_ID}, ok=(404,)
    ),
    ("POST", "/api/v1/portal/management/api-keys/restore"): Rule(
        USER_SESSION, body={"id": MISSING_ID}, ok=(404,)
    ),
    ("POST", "/api/v1/portal/management/api-keys/rotate"): Rule(
        USER_SESSION, body={"id": MISSING_ID}, ok=(404,)
    ),
    ("PUT", "/api/v1/portal/management/api-keys/{api_key_id}"): Rule(
        USER_SESSION, body={"name": "matrix portal"}, path={"api_key_id": MISSING_ID}, ok=(404,)
    ),
    ("DELETE", "/api/v1/portal/management/api-keys/{api_key_id}"): Rule(
        USER_SESSION, path={"api_key_id": MISSING_ID}, ok=(404,)
    ),
    ("GET", "/api/v1/portal/management/balance"): Rule(MANAGEMENT_KEY, ("balance:read",)),
    ("GET", "/api/v1/portal/management/usage"): Rule(MANAGEMENT_KEY, ("usage:read",)),
    # the gateway: inference keys only (no credential routes the made-up model: 404)
    ("POST", "/v1/chat/completions"): Rule(INFERENCE_KEY, body=CHAT, ok=(404,)),
    ("POST", "/v1/embeddings"): Rule(INFERENCE_KEY, body=EMBED, ok=(404,)),
    ("GET", "/v1/models"): Rule(INFERENCE_KEY),
    ("POST", "/api/v1/chat/completions"): Rule(INFERENCE_KEY, body=CHAT, ok=(404,)),
    ("POST", "/api/v1/embeddings"): Rule(INFERENCE_KEY, body=EMBED, ok=(404,)),
    ("GET", "/api/v1/models"): Rule(INFERENCE_KEY),
    ("POST", "/v1/messages"): Rule(INFERENCE_KEY, body=MESSAGES, ok=(404,)),
    ("POST", "/v1/messages/count_tokens"): Rule(INFERENCE_KEY, body=MESSAGES, ok=(404,)),
    # the dashboard: session cookies only (tests/surfaces/dashboard tests each role's sessions)
    ("GET", "/dashboard"): Rule(DASH_PUBLIC),  # a redirect to /dashboard/
    ("GET", "/dashboard/login"): Rule(DASH_PUBLIC),
    ("POST", "/dashboard/login"): Rule(DASH_PUBLIC),
    ("POST", "/dashboard/logout"): Rule(DASH),
    ("POST", "/dashboard/switch-org"): Rule(DASH),
    ("GET", "/dashboard/"): Rule(DASH),
    ("GET", "/dashboard/keys"): Rule(DASH),
    ("POST", "/dashboard/keys"): Rule(DASH),
    ("POST", "/dashboard/keys/{key_hash}/disable"): Rule(DASH),
    ("POST", "/dashboard/keys/{key_hash}/enable"): Rule(DASH),
    ("GET", "/dashboard/keys/{key_hash}/edit"): Rule(DASH),
    ("POST", "/dashboard/keys/{key_hash}/edit"): Rule(DASH),
    ("GET", "/dashboard/keys/{key_hash}/delete"): Rule(DASH),
    ("POST", "/dashboard/keys/{key_hash}/delete"): Rule(DASH),
    ("GET", "/dashboard/usage"): Rule(DASH),
    ("GET", "/dashboard/usage/export.csv"): Rule(DASH),
    ("GET", "/dashboard/providers"): Rule(DASH),
    ("POST", "/dashboard/providers"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/providers/{provider}/{key_id}/delete"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/providers/{provider}/{key_id}/delete"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/providers/{provider}/{key_id}/refresh"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/providers/{provider}/{key_id}/edit"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/providers/{provider}/{key_id}/edit"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/provider-settings"): Rule(DASH_OPERATOR),
    ("GET", "/dashboard/budgets"): Rule(DASH),  # members read that budgets are the admins'
    ("POST", "/dashboard/budgets"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/budgets/{budget_id}/delete"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/members"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/members/invite"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/members/{user_id}/role"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/members/{user_id}/remove"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/invitations/{invitation_id}/cancel"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/workspaces"): Rule(DASH),
    ("POST", "/dashboard/workspaces"): Rule(DASH_ADMIN),
    ("POST", "/dashboard/workspaces/{workspace_id}/rename"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/workspaces/{workspace_id}/config"): Rule(DASH),
    # members too while the config's allow_overwrite is on (the service decides)
    ("POST", "/dashboard/workspaces/{workspace_id}/config"): Rule(DASH),
    ("GET", "/dashboard/audit"): Rule(DASH_ADMIN),
    ("GET", "/dashboard/organizations"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/organizations"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/organizations/{org_id}/suspend"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/organizations/{org_id}/resume"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/organizations/{org_id}/credit"): Rule(DASH_OPERATOR),
    ("GET", "/dashboard/prices"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/prices"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/prices/delete"): Rule(DASH_OPERATOR),
    ("POST", "/dashboard/exchange-rates"): Rule(DASH_OPERATOR),
}
DASHBOARD_LEVELS = frozenset({DASH_PUBLIC, DASH, DASH_ADMIN, DASH_OPERATOR})

# Rules another engineer is changing the code to, as "pending: <what>" per (method, path, caller):
# each becomes a strict xfail, so merging the change fails the suite until its mark is removed.
PENDING: dict[tuple[str, str, str], str] = {}
# Behaviour that looks wrong today (reported, not fixed here): the rule above is the sensible one.
FINDINGS: dict[tuple[str, str, str], str] = {}

SCOPE_SETS = {frozenset(rule.scopes) for rule in RULES.values() if rule.scopes}


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI keeps them apart in its route list)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included.routes) if included is not None else (route,)


def route_table() -> set[tuple[str, str]]:
    """Every method and path the app answers: the schema, routes kept out of it, the gateway's."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(
            Settings(
                data_dir=Path(directory),
                database_url=f"sqlite+aiosqlite:///{directory}/unused.db",
                secret_key="matrix-route-table-secret-key-for-tests",
                redis_url=None,
            )
        )
    table = {
        (method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations
    }
    for route in _routes(app.routes):
        if isinstance(route, Route) and not route.include_in_schema:
            table |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    table |= {(method, path) for path, (method, _operation) in GATEWAY_ROUTES.items()}
    return table


def test_every_route_has_a_rule() -> None:
    table, ruled = route_table(), set(RULES)
    assert not table - ruled, f"routes without a rule in RULES: {sorted(table - ruled)}"
    assert not ruled - table, f"rules for routes that do not exist: {sorted(ruled - table)}"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKEND_NAMES)
async def world(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres_database: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """One app and data set per backend for the whole module: the matrix only reads or refuses."""
    directory = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
        url = backends.sqlite_copy(sqlite_template, directory)
    elif postgres_database is None:
        backends.unavailable("PostgreSQL")
        raise AssertionError("unreachable")
    else:
        await backends.truncate_all(postgres_database)
        url = postgres_database
    settings = Settings(
        data_dir=directory / "data",
        database_url=url,
        secret_key="matrix-secret-key-for-keyplane-tests",
        redis_url=None,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield await build_world(client, app.state.keyplane, SCOPE_SETS)


def _org_of(caller: str, rule: Rule) -> str:
    if caller == LACKS_SCOPE:
        return OPERATOR if rule.level is OPERATOR_ONLY else TENANT
    return CALLER_ORG.get(caller, TENANT)


def _token_of(world: World, caller: str, rule: Rule) -> dict[str, str]:
    if caller == LACKS_SCOPE:
        token = world.lacking[(_org_of(caller, rule), frozenset(rule.scopes))]
        return {"Authorization": f"Bearer {token}"}
    return world.headers(caller)


def _fill(value: Any, objects: Mapping[str, str]) -> Any:
    """A sample with "{name}" placeholders filled in (strings and dict values, recursively)."""
    if isinstance(value, str):
        return value.format(**objects)
    if isinstance(value, dict):
        return {name: _fill(item, objects) for name, item in value.items()}
    return value


async def call(world: World, method: str, template: str, caller: str, *, allowed: bool) -> httpx.Response:
    """The rule's sample request as this caller, on the caller's own org's objects."""
    rule = RULES[(method, template)]
    objects = world.objects[_org_of(caller, rule)]
    params = {name: objects[v[1:]] if v.startswith("@") else v for name, v in rule.path.items()}
    if allowed:
        params.update(rule.missing)
    body = rule.body if allowed or rule.attack is None else rule.attack
    return await world.client.request(
        method,
        template.format(**params),
        headers=_token_of(world, caller, rule),
        json=_fill(body, {"caller": caller}),
    )


def assert_error_shape(path: str, response: httpx.Response) -> None:
    """Each surface's own error body, as its clients parse it."""
    status, body = response.status_code, response.json()
    if path.startswith("/api/v1/portal/"):
        assert body["data"] is None and body["meta"]["code"] == status, body
        assert isinstance(body["meta"]["message"], str), body
    elif path.startswith("/v1/manage/"):
        assert set(body) == {"error"} and isinstance(body["error"], str), body
    elif path.startswith("/v1/messages"):
        assert body["type"] == "error" and isinstance(body["error"]["type"], str), body
        assert isinstance(body["error"]["message"], str), body
    elif path.startswith(("/v1/", "/api/v1/chat/", "/api/v1/embeddings", "/api/v1/models")):
        error = body["error"]
        assert isinstance(error["message"], str) and isinstance(error["type"], str), body
        assert isinstance(error["code"], str), body
    elif path.startswith(("/api/providers", "/api/keys")):
        assert body["status_code"] == status and isinstance(body["error"]["message"], str), body
    elif path.startswith("/api/v1/"):
        assert set(body) == {"error"} and body["error"]["code"] == status, body
        assert isinstance(body["error"]["message"], str), body
    else:
        raise AssertionError(f"no error shape known for {path}")


def _cases(*, allowed: bool) -> list[Any]:
    """(method, path, caller) for every caller the rule refuses, or every one it lets through."""
    return list(_case_params(allowed=allowed))


def _case_params(*, allowed: bool) -> Iterator[Any]:
    for (method, path), rule in RULES.items():
        if rule.level in DASHBOARD_LEVELS:
            continue  # bearer tokens are never read there: test_dashboard_routes_ignore_bearer_tokens
        callers = (*CALLERS, LACKS_SCOPE) if rule.scopes else CALLERS
        for caller in callers:
            if (caller in ALLOWED[rule.level] and caller != LACKS_SCOPE) is not allowed:
                continue
            reason = PENDING.get((method, path, caller)) or FINDINGS.get((method, path, caller))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(method, path, caller, id=f"{method} {path} as {caller}", marks=marks)


@MODULE_LOOP
@pytest.mark.parametrize(("method", "path", "caller"), _cases(allowed=False))
async def test_callers_below_the_rule_are_refused(world: World, method: str, path: str, caller: str) -> None:
    response = await call(world, method, path, caller, allowed=False)
    expected = (401,) if caller == ANONYMOUS else (401, 403)
    assert response.status_code in expected, f"{response.status_code}: {response.text[:300]}"
    assert_error_shape(path, response)


@MODULE_LOOP
@pytest.mark.parametrize(("method", "path", "caller"), _cases(allowed=True))
async def test_callers_at_or_above_the_rule_get_through(
    world: World, method: str, path: str, caller: str
) -> None:
    rule = RULES[(method, path)]
    response = await call(world, method, path, caller, allowed=True)
    accepted = {*rule.ok, *((404,) if rule.missing else ())}
    assert response.is_success or response.status_code in accepted, (
        f"{response.status_code}: {response.text[:300]}"
    )


# Another org's objects, addressed the way a hostile tenant (or a curious operator) would: a 404.
CROSS_ORG: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/keys/{key}", None),
    ("PATCH", "/api/v1/keys/{key}", {"disabled": True}),
    ("DELETE", "/api/v1/keys/{key}", None),
    ("GET", "/api/v1/keys?workspace_id={workspace}", None),
    ("POST", "/api/v1/keys", {"name": "planted", "workspace_id": "{workspace}"}),
    ("GET", "/api/v1/usage?key_hash={key}", None),
    ("GET", "/api/v1/usage?workspace_id={workspace}", None),
    ("GET", "/api/v1/budgets/{budget}", None),
    ("PATCH", "/api/v1/budgets/{budget}", {"limit": 1_000_000}),
    ("DELETE", "/api/v1/budgets/{budget}", None),
    ("POST", "/api/v1/budgets", {"scope": "key", "limit": 0.01, "key_hash": "{key}"}),
    ("POST", "/api/v1/budgets", {"scope": "workspace", "limit": 0.01, "workspace_id": "{workspace}"}),
    ("GET", "/api/providers/openai/keys/{credential}", None),
    ("PUT", "/api/providers/openai/keys/{credential}", credential_body("hijacked")),
    ("DELETE", "/api/providers/openai/keys/{credential}", None),
    ("POST", "/api/providers/openai/keys/{dead_credential}/refresh-models", None),
    ("PATCH", "/api/v1/workspaces/{workspace}", {"name": "Hijacked"}),
    ("PATCH", "/api/v1/members/{owner}", {"role": "member"}),
    ("DELETE", "/api/v1/members/{victim_member}", None),
    ("DELETE", "/api/v1/invitations/{invitation}", None),
    ("DELETE", "/api/v1/webhooks/{webhook}", None),
    ("GET", "/api/v1/webhooks/{webhook}/deliveries", None),
]


@MODULE_LOOP
@pytest.mark.parametrize(
    ("caller", "other"), [(OWNER, OPERATOR), (OPERATOR_ADMIN, TENANT)], ids=["tenant", "operator"]
)
@pytest.mark.parametrize(("method", "path", "body"), CROSS_ORG, ids=[f"{m} {p}" for m, p, _ in CROSS_ORG])
async def test_another_orgs_objects_are_not_found(
    world: World, caller: str, other: str, method: str, path: str, body: Any
) -> None:
    objects = world.objects[other]
    url = _fill(path, objects)
    response = await world.client.request(
        method, url, headers=world.headers(caller), json=_fill(body, objects)
    )
    assert response.status_code == 404, f"{response.status_code}: {response.text[:300]}"
    assert_error_shape(url, response)


PORTAL_KEY = "/api/v1/portal/management/api-keys"


@MODULE_LOOP
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", PORTAL_KEY + "/{portal_key}", {"name": "hijacked"}),
        ("POST", PORTAL_KEY + "/revoke", {"id": "{portal_key}"}),
        ("DELETE", PORTAL_KEY + "/{portal_key}", None),
    ],
    ids=["update", "revoke", "delete"],
)
async def test_another_users_portal_key_is_not_found(world: World, method: str, path: str, body: Any) -> None:
    objects = world.objects[OPERATOR]
    response = await world.client.request(
        method, _fill(path, objects), headers=world.headers(SESSION), json=_fill(body, objects)
    )
    assert response.status_code == 404, response.text
    assert_error_shape(path, response)


@MODULE_LOOP
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/providers/openai/keys", {**credential_body("mine now"), "platform": True}),
        ("PUT", "/api/providers/openai/keys/{platform_credential}", credential_body("mine now")),
        ("DELETE", "/api/providers/openai/keys/{platform_credential}", None),
        ("POST", "/api/providers/openai/keys/{platform_credential}/refresh-models", None),
    ],
    ids=["create", "replace", "delete", "refresh"],
)
@pytest.mark.parametrize("caller", [OWNER, ADMIN, MEMBER, OPERATOR_MEMBER])
async def test_only_operator_admins_change_platform_credentials(
    world: World, caller: str, method: str, path: str, body: Any
) -> None:
    objects = world.objects[OPERATOR]
    url = _fill(path, objects)
    response = await world.client.request(method, url, headers=world.headers(caller), json=body)
    assert response.status_code == 403, response.text
    assert_error_shape(url, response)


@MODULE_LOOP
async def test_a_tenant_crediting_any_org_gets_one_answer_whether_it_exists_or_not(world: World) -> None:
    answers = [
        await world.client.post(
            "/api/v1/billing/credits", headers=world.headers(OWNER), json={"amount": 1.0, "org_id": org_id}
        )
        for org_id in (world.objects[OPERATOR]["org"], MISSING_ID)
    ]
    assert [a.status_code for a in answers] == [403, 403], [a.text for a in answers]


DASHBOARD_PATH_SAMPLES = {
    "key_hash": MISSING_HASH,
    "provider": "openai",
    "key_id": MISSING_ID,
    "user_id": MISSING_ID,
    "invitation_id": MISSING_ID,
    "budget_id": MISSING_ID,
    "workspace_id": MISSING_ID,
    "org_id": MISSING_ID,
}


@MODULE_LOOP
@pytest.mark.parametrize(
    ("method", "path"), [key for key, rule in RULES.items() if rule.level in DASHBOARD_LEVELS]
)
async def test_dashboard_routes_ignore_bearer_tokens(world: World, method: str, path: str) -> None:
    """Any bearer token (or none) is no dashboard session: sign-in is shown, everything else
    redirects there; the sign-in POST without its form's CSRF token is refused."""
    url = path.format(**DASHBOARD_PATH_SAMPLES)
    for caller in CALLERS:
        response = await world.client.request(method, url, headers=world.headers(caller), data={"x": "1"})
        if (method, path) == ("GET", "/dashboard/login"):
            assert response.status_code == 200, caller
        elif (method, path) == ("POST", "/dashboard/login"):
            assert response.status_code == 403, caller
        elif path == "/dashboard":
            assert response.status_code == 307 and response.headers["location"] == "/dashboard/", caller
        else:
            assert response.status_code == 303, (caller, response.status_code, response.text[:200])
            assert response.headers["location"].startswith("/dashboard/login"), caller
