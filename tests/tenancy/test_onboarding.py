"""The whole onboarding from the shell, on two real instances of one database:

operator creates an org (CLI) -> owner accepts the invitation (CLI) -> signs in -> portal management
key -> inference key -> a gateway call on a platform credential -> the operator sees the tenant's
usage and balance -> suspend -> refused on the second instance within a second -> resume -> served.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import httpx
import pytest

from tests.factories import bearer
from tests.fakes.upstream import RunningUpstream
from tests.live_server import LiveServer, LiveServerFactory, run_cli, run_init
from tests.tenancy.helpers import OWNER_SCOPES

pytestmark = pytest.mark.slow

PASSWORD = "globex-owner-password"
CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
PROPAGATION_SECONDS = 1.0  # the promise: a suspension lands on every instance within one second


def cli(server: LiveServer, *args: str, key: str | None = None) -> Any:
    env = {**server.env, "KEYPLANE_URL": server.base_url, "COLUMNS": "200"}
    if key is not None:
        env["KEYPLANE_MANAGEMENT_KEY"] = key
    done: subprocess.CompletedProcess[str] = run_cli([*args, "--json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _until_status(http: httpx.AsyncClient, url: str, key: str, wanted: int) -> float:
    """Seconds until the gateway answers `wanted` for this key (polled; bounded by the deadline)."""
    started = time.monotonic()
    while True:
        response = await http.get(url, headers=bearer(key))
        elapsed = time.monotonic() - started
        if response.status_code == wanted:
            return elapsed
        assert elapsed < 10, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(0.02)


async def test_a_second_team_is_onboarded_served_suspended_and_resumed(
    live_server_env: dict[str, str], live_server_factory: LiveServerFactory, upstream: RunningUpstream
) -> None:
    init = run_init(live_server_env)
    first, second = await asyncio.gather(
        asyncio.to_thread(live_server_factory, live_server_env, init=init),
        asyncio.to_thread(live_server_factory, live_server_env, init=init),
    )
    operator_key = first.management_key
    async with httpx.AsyncClient(timeout=30) as http:
        platform = await http.post(
            first.base_url + "/api/providers/vllm/keys",
            headers=bearer(operator_key),
            json={
                "name": "platform vllm",
                "value": "sk-upstream",
                "models": ["gpt-test"],
                "platform": True,
                "vllm_key_config": {"url": upstream.base_url},
            },
        )
        assert platform.status_code == 200, platform.text
        price = await http.put(
            first.base_url + "/api/v1/model-prices/gpt-test",
            headers=bearer(operator_key),
            json={"input": 2.0, "output": 8.0},
        )
        assert price.status_code == 200, price.text

        created = cli(
            first, "orgs", "create", "Globex", "--owner-email", "boss@globex.test", key=operator_key
        )
        org_id, token = created["data"]["id"], created["invitation"]["token"]
        cli(first, "credits", "add", "5", "--org-id", org_id, key=operator_key)
        accepted = cli(first, "invitations", "accept", token, "--password", PASSWORD)
        assert (accepted["org_id"], accepted["role"]) == (org_id, "owner")

        login = await http.post(
            first.base_url + "/api/v1/auth/login", json={"email": "boss@globex.test", "password": PASSWORD}
        )
        session_token = login.json()["access_token"]
        portal = await http.post(
            first.base_url + "/api/v1/portal/management/api-keys",
            headers=bearer(session_token),
            json={"name": "globex admin", "org_id": org_id, "scopes": OWNER_SCOPES},
        )
        tenant_key = portal.json()["data"]["api_key"]
        inference = cli(first, "keys", "create", "globex app", key=tenant_key)["key"]

        chat = await http.post(second.base_url + "/v1/chat/completions", headers=bearer(inference), json=CHAT)
        assert chat.status_code == 200, chat.text

        params = {"org_id": org_id}
        usage: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not usage and time.monotonic() < deadline:  # usage is written in background batches
            answer = await http.get(
                first.base_url + "/api/v1/usage", params=params, headers=bearer(operator_key)
            )
            usage = answer.json()["data"]
            if not usage:
                await asyncio.sleep(0.05)
        assert [(u["model"], u["status_code"]) for u in usage] == [("gpt-test", 200)]
        balance = await http.get(
            first.base_url + "/api/v1/billing/balance", params=params, headers=bearer(operator_key)
        )
        assert 0 < balance.json()["data"]["balance"] < 5

        models = second.base_url + "/v1/models"
        cli(first, "orgs", "suspend", org_id, key=operator_key)
        assert await _until_status(http, models, inference, 403) < PROPAGATION_SECONDS
        refused = await http.post(
            second.base_url + "/v1/chat/completions", headers=bearer(inference), json=CHAT
        )
        assert refused.json()["error"]["code"] == "organization_suspended"
        assert (
            await http.get(second.base_url + "/api/v1/keys", headers=bearer(tenant_key))
        ).status_code == 403

        cli(first, "orgs", "resume", org_id, key=operator_key)
        assert await _until_status(http, models, inference, 200) < PROPAGATION_SECONDS
        listed = cli(first, "orgs", "list", key=operator_key)
        assert [o["status"] for o in listed] == ["active", "active"]
