"""The running keyplane the schemathesis run fuzzes: one served app per backend with a little of
everything (a credential on the fake upstream, keys, a workspace, a budget, a member, an invitation,
a tenant org, a rate, a price, credit and one recorded request), and the ids of those objects so the
fuzzer reaches past the 404s."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.db import session_scope
from keyplane.kernel.principal import Principal
from keyplane.keys.schemas import KeyCreate
from keyplane.keys.service import create_key
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, add_user, bearer, bootstrap_org
from tests.harness import FLUSH_WAIT_SECONDS, ServedApp

MODEL = "fuzz-model"  # the only model the gateway key may call, served by the fake upstream
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class FuzzWorld:
    base_url: str
    management: dict[str, str]  # the operator's management key
    session: dict[str, str]  # the owner's session token, for the routes that take only that
    inference: dict[str, str]  # a gateway key limited to MODEL
    known: dict[str, str] = field(default_factory=dict)  # path parameter -> an existing object's id


def _check_host(host: Any) -> None:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in LOOPBACK:
        raise OSError(f"the fuzz run sends no traffic off this machine ({name[:60]})")


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Fuzzed credentials may name any host: every new connection and lookup stays on loopback."""
    loop_class = asyncio.BaseEventLoop
    connect, resolve, lookup = loop_class.create_connection, loop_class.getaddrinfo, socket.getaddrinfo

    async def guarded_connect(self: Any, factory: Any, host: Any = None, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            _check_host(host)
        return await connect(self, factory, host, *args, **kwargs)

    async def guarded_resolve(self: Any, host: Any, *args: Any, **kwargs: Any) -> Any:
        _check_host(host)
        return await resolve(self, host, *args, **kwargs)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check_host(host)
        return lookup(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop_class, "create_connection", guarded_connect)
        patch.setattr(loop_class, "getaddrinfo", guarded_resolve)
        patch.setattr(socket, "getaddrinfo", guarded_lookup)
        yield


async def _seed_database(settings: Settings) -> tuple[BootstrapResult, str, str]:
    """The operator org, one member, and the gateway key (allowed models are not in the keys API)."""
    app = create_app(settings)
    context = app.state.keyplane
    try:
        org = await bootstrap_org(context, name="Fuzz Operator", email="owner@fuzz.test")
        member_id = await add_user(context, org_id=org.org_id, email="member@fuzz.test")
        owner = Principal(kind="user", user_id=org.user_id, org_id=org.org_id, role="owner")
        async with session_scope(context.sessions) as session:
            _key, plaintext = await create_key(
                session=session,
                principal=owner,
                params=KeyCreate(name="fuzz gateway", allowed_models=[MODEL]),
                default_org_cap=settings.max_keys_per_org,
            )
        return org, member_id, plaintext
    finally:
        await context.engine.dispose()


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


def build_world(settings: Settings, upstream_url: str) -> Iterator[FuzzWorld]:
    """Seed the database, serve it, add the objects through the APIs, then yield the world."""
    org, member_id, inference_key = asyncio.run(_seed_database(settings))
    server = ServedApp(settings).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            yield _populate(http, server.base_url, org, member_id, inference_key, upstream_url)
    finally:
        server.stop()


def _populate(
    http: httpx.Client,
    base_url: str,
    org: BootstrapResult,
    member_id: str,
    inference_key: str,
    upstream_url: str,
) -> FuzzWorld:
    admin = bearer(org.management_key)
    credential = _ok(
        http.post(
            "/api/providers/vllm/keys",
            headers=admin,
            json={
                "name": "fuzz upstream",
                "value": "sk-upstream-secret",
                "models": [MODEL],
                "vllm_key_config": {"url": upstream_url},
            },
        )
    )
    key_hash = _ok(http.post("/api/v1/keys", headers=admin, json={"name": "fuzz target"}), 201)["data"][
        "hash"
    ]
    workspace = _ok(http.post("/api/v1/workspaces", headers=admin, json={"name": "fuzz space"}), 201)
    budget = _ok(http.post("/api/v1/budgets", headers=admin, json={"scope": "org", "limit": 50}), 201)
    webhook = _ok(
        http.post(
            "/api/v1/webhooks",
            headers=admin,
            json={"url": "https://93.184.216.34/fuzz", "events": ["budget.threshold"]},
        ),
        201,
    )
    invited = _ok(http.post("/api/v1/members", headers=admin, json={"email": "invitee@fuzz.test"}), 201)
    tenant = _ok(
        http.post(
            "/api/v1/organizations", headers=admin, json={"name": "Fuzz Tenant", "owner_email": "t@fuzz.test"}
        ),
        201,
    )
    _ok(http.put("/api/v1/billing/exchange-rates/EUR", headers=admin, json={"rate": 0.9}))
    _ok(http.put(f"/api/v1/model-prices/{MODEL}", headers=admin, json={"input": 1, "output": 2}))
    _ok(http.post("/api/v1/billing/credits", headers=admin, json={"amount": 100}), 201)
    login = _ok(http.post("/api/v1/auth/login", json={"email": org.email, "password": DEFAULT_PASSWORD}))
    session = bearer(login["access_token"])
    portal_key = _ok(http.post("/api/v1/portal/management/api-keys", headers=session, json={"name": "p"}))
    inference = bearer(inference_key)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
    _ok(http.post("/v1/chat/completions", headers=inference, json=chat))
    _wait_for_usage(http, admin)
    return FuzzWorld(
        base_url=base_url,
        management=admin,
        session=session,
        inference=inference,
        known={
            "provider": "vllm",
            "key_id": credential["id"],
            "key_hash": key_hash,
            "workspace_id": workspace["data"]["id"],
            "budget_id": budget["data"]["id"],
            "webhook_id": webhook["data"]["id"],
            "user_id": member_id,
            "invitation_id": invited["invitation"]["id"],
            "org_id": tenant["data"]["id"],
            "currency_code": "EUR",
            "model": MODEL,
            "api_key_id": portal_key["data"]["id"],
        },
    )


def _wait_for_usage(http: httpx.Client, admin: dict[str, str]) -> None:
    """The usage writer flushes in the background: poll (bounded) until the request is recorded."""
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while _ok(http.get("/api/v1/usage", headers=admin))["pagination"]["total"] < 1:
        if time.monotonic() > deadline:
            raise AssertionError("the seeded request was never recorded")
        time.sleep(0.05)
