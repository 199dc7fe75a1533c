"""The Cortecs management surface at /v1/manage; every response is checked against the spec file."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM
from keyplane.models import ApiKey, AuditEvent, Budget, ProjectConfig
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.surfaces.test_cortecs_spec import assert_cortecs_response

CONFIG_TIMES = {"created_at": "2025-09-25T08:29:50.735Z", "updated_at": "2025-09-25T08:29:50.735Z"}
DEFAULT_CONFIG = {
    "allowed_providers": [],
    "eu_native": False,
    "allow_quantization": True,
    "allow_zero_data_retention": False,
    "enable_model_fallback": True,
    "preference": "balanced",
    "max_tokens": None,
}


async def delete_key(client: httpx.AsyncClient, token: str, name: str) -> httpx.Response:
    return await client.request("DELETE", "/v1/manage/api-keys", json={"name": name}, headers=bearer(token))


async def audit_actions(context: AppContext) -> list[str]:
    async with session_scope(context.sessions) as session:
        rows = await session.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return list(rows.scalars())


async def test_every_operation_answers_in_the_spec_shape(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)

    listed = assert_cortecs_response(await client.get("/v1/manage/api-keys", headers=headers), status=200)
    assert [k["name"] for k in listed["api_keys"]] == ["bootstrap management key"]
    assert listed["api_keys"][0]["is_management_key"] is True

    created = assert_cortecs_response(
        await client.post("/v1/manage/api-keys", json={"name": "my-new-key"}, headers=headers), status=201
    )
    assert created["name"] == "my-new-key" and created["is_management_key"] is False
    assert created["api_key"].startswith("sk-kp-v1-")
    managed = assert_cortecs_response(
        await client.post(
            "/v1/manage/api-keys", json={"name": "ops", "is_management_key": True}, headers=headers
        ),
        status=201,
    )
    assert managed["api_key"].startswith("sk_mg_")
    # The new management key works on the same surface at once.
    assert_cortecs_response(
        await client.get("/v1/manage/api-keys", headers=bearer(managed["api_key"])), status=200
    )

    listed = assert_cortecs_response(await client.get("/v1/manage/api-keys", headers=headers), status=200)
    assert [(k["name"], k["is_management_key"]) for k in listed["api_keys"]] == [
        ("bootstrap management key", True),
        ("my-new-key", False),
        ("ops", True),
    ]
    assert all(isinstance(k["created_at"], int) for k in listed["api_keys"])

    config = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert config["project_id"] == org.workspace_id
    assert config["inference_config"] == DEFAULT_CONFIG
    assert config["allow_overwrite"] is False

    update = {
        "inference_config": {
            "allowed_providers": ["openai", "Mistral"],
            "eu_native": True,
            "max_tokens": 512,
        },
        "allow_overwrite": True,
        **CONFIG_TIMES,
    }
    updated = await client.put("/v1/manage/project-configs", json=update, headers=headers)
    assert assert_cortecs_response(updated, status=200) == {"success": True}
    config = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert config["inference_config"] == {
        **DEFAULT_CONFIG,
        "allowed_providers": ["openai", "mistral"],
        "eu_native": True,
        "max_tokens": 512,
    }
    assert config["allow_overwrite"] is True

    balance = assert_cortecs_response(
        await client.get("/v1/manage/users/balance", headers=headers), status=200
    )
    assert balance == {"current_balance": 0.0, "currency": "USD"}

    deleted = assert_cortecs_response(await delete_key(client, org.management_key, "my-new-key"), status=200)
    assert deleted == {"success": True, "deleted": "my-new-key"}
    listed = assert_cortecs_response(await client.get("/v1/manage/api-keys", headers=headers), status=200)
    assert [k["name"] for k in listed["api_keys"]] == ["bootstrap management key", "ops"]

    actions = await audit_actions(context)
    assert actions.count("key.created") == 3  # bootstrap + two here
    assert "project_config.updated" in actions and "key.deleted" in actions


async def test_a_round_tripped_config_is_accepted_unchanged(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    config = (await client.get("/v1/manage/project-configs", headers=headers)).json()
    response = await client.put("/v1/manage/project-configs", json=config, headers=headers)
    assert assert_cortecs_response(response, status=200) == {"success": True}
    again = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert again == config


async def test_nullable_config_fields_can_be_cleared(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    body = {"inference_config": {"preference": None, "max_tokens": None}, **CONFIG_TIMES}
    assert_cortecs_response(
        await client.put("/v1/manage/project-configs", json=body, headers=headers), status=200
    )
    config = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert config["inference_config"]["preference"] is None


async def test_a_duplicate_name_is_refused(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    await client.post("/v1/manage/api-keys", json={"name": "twin"}, headers=headers)
    again = await client.post(
        "/v1/manage/api-keys", json={"name": "twin", "is_management_key": True}, headers=headers
    )
    assert assert_cortecs_response(again, status=400) == {"error": "An API key named 'twin' already exists"}


async def test_the_per_user_key_cap_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    context.settings.inference_keys_per_user = 2
    headers = bearer(org.management_key)
    for name in ("a", "b"):
        assert_cortecs_response(
            await client.post("/v1/manage/api-keys", json={"name": name}, headers=headers), status=201
        )
    third = await client.post("/v1/manage/api-keys", json={"name": "c"}, headers=headers)
    assert "Key limit reached" in assert_cortecs_response(third, status=400)["error"]
    # The management cap is separate: the owner holds one management key of 10.
    ops = await client.post(
        "/v1/manage/api-keys", json={"name": "ops", "is_management_key": True}, headers=headers
    )
    assert_cortecs_response(ops, status=201)


async def test_deleting_the_calling_key_is_refused(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await delete_key(client, org.management_key, "bootstrap management key")
    body = assert_cortecs_response(response, status=400)
    assert body == {"error": "You cannot delete the management key used to authenticate this request"}
    still = await client.get("/v1/manage/api-keys", headers=bearer(org.management_key))
    assert_cortecs_response(still, status=200)


async def test_deleting_a_key_removes_its_budgets(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    await client.post("/v1/manage/api-keys", json={"name": "budgeted"}, headers=headers)
    async with session_scope(context.sessions) as session:
        key_id = (await session.execute(select(ApiKey.id).where(ApiKey.name == "budgeted"))).scalar_one()
        session.add(Budget(org_id=org.org_id, scope="key", key_id=key_id, limit_nanousd=5_000_000_000))
        session.add(Budget(org_id=org.org_id, scope="org", limit_nanousd=9_000_000_000))
    assert_cortecs_response(await delete_key(client, org.management_key, "budgeted"), status=200)
    async with session_scope(context.sessions) as session:
        scopes = list((await session.execute(select(Budget.scope))).scalars())
        keys_left = (await session.execute(select(func.count()).where(ApiKey.id == key_id))).scalar_one()
    assert scopes == ["org"]
    assert keys_left == 0


async def test_an_unknown_name_is_404(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await delete_key(client, org.management_key, "no-such-key")
    assert assert_cortecs_response(response, status=404) == {"error": "API key 'no-such-key' not found"}


async def test_another_users_and_another_orgs_keys_are_not_visible(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    await client.post("/v1/manage/api-keys", json={"name": "owner-key"}, headers=bearer(org.management_key))
    member = await add_user(context, org_id=org.org_id, email="member@acme.test")
    member_key = await make_key(
        context, org_id=org.org_id, user_id=member, role="member", kind="management", name="m", reach="user"
    )
    other = await make_org(context, name="Other", email="owner@other.test")
    for token in (member_key, other.management_key):
        listed = assert_cortecs_response(
            await client.get("/v1/manage/api-keys", headers=bearer(token)), status=200
        )
        assert "owner-key" not in [k["name"] for k in listed["api_keys"]]
        assert_cortecs_response(await delete_key(client, token, "owner-key"), status=404)
    # Names are unique per user: the member may reuse the owner's name.
    reuse = await client.post("/v1/manage/api-keys", json={"name": "owner-key"}, headers=bearer(member_key))
    assert_cortecs_response(reuse, status=201)


async def test_only_management_keys_are_accepted(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    login = await client.post(
        "/api/v1/auth/login", json={"email": org.email, "password": "correct-horse-battery"}
    )
    jwt = login.json()["access_token"]
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/manage/api-keys", None),
        ("POST", "/v1/manage/api-keys", {"name": "x"}),
        ("DELETE", "/v1/manage/api-keys", {"name": "x"}),
        ("GET", "/v1/manage/project-configs", None),
        ("PUT", "/v1/manage/project-configs", {"inference_config": {}, **CONFIG_TIMES}),
        ("GET", "/v1/manage/users/balance", None),
    ]
    for method, path, body in calls:
        for headers, status in (
            (bearer(inference), 403),
            (bearer(jwt), 403),
            ({}, 401),
            (bearer("sk_mg_" + "0" * 64), 401),
            (bearer("not-a-key"), 401),
        ):
            response = await client.request(method, path, json=body, headers=headers)
            assert_cortecs_response(response, status=status)
    listed = await client.get("/v1/manage/api-keys", headers=bearer(org.management_key))
    assert [k["name"] for k in listed.json()["api_keys"]] == ["bootstrap management key", "test key"]


async def test_config_changes_need_an_admin_unless_overwrite_is_allowed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member = await add_user(context, org_id=org.org_id, email="member@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    change = {"inference_config": {"eu_native": True}, **CONFIG_TIMES}
    refused = await client.put("/v1/manage/project-configs", json=change, headers=bearer(member_key))
    assert "admin" in assert_cortecs_response(refused, status=403)["error"]

    opened = {"inference_config": {}, "allow_overwrite": True, **CONFIG_TIMES}
    assert_cortecs_response(
        await client.put("/v1/manage/project-configs", json=opened, headers=bearer(org.management_key)),
        status=200,
    )
    allowed = await client.put("/v1/manage/project-configs", json=change, headers=bearer(member_key))
    assert_cortecs_response(allowed, status=200)
    closing = {"inference_config": {}, "allow_overwrite": False, **CONFIG_TIMES}
    refused = await client.put("/v1/manage/project-configs", json=closing, headers=bearer(member_key))
    assert assert_cortecs_response(refused, status=403) == {
        "error": "Only project admins can change allow_overwrite"
    }
    config = await client.get("/v1/manage/project-configs", headers=bearer(member_key))
    body = assert_cortecs_response(config, status=200)
    assert body["inference_config"]["eu_native"] is True and body["allow_overwrite"] is True


async def test_each_workspace_has_its_own_config(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    change = {"inference_config": {"max_tokens": 100}, **CONFIG_TIMES}
    await client.put("/v1/manage/project-configs", json=change, headers=bearer(org.management_key))
    theirs = await client.get("/v1/manage/project-configs", headers=bearer(other.management_key))
    body = assert_cortecs_response(theirs, status=200)
    assert body["project_id"] == other.workspace_id and body["inference_config"]["max_tokens"] is None


async def test_balance_reflects_the_org_ledger(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    from keyplane.billing.ledger import add_credit

    async with session_scope(context.sessions) as session:
        await add_credit(session=session, principal=SYSTEM, org_id=org.org_id, amount_nanos=12_500_000_000)
    response = await client.get("/v1/manage/users/balance", headers=bearer(org.management_key))
    assert assert_cortecs_response(response, status=200) == {"current_balance": 12.5, "currency": "USD"}


async def test_a_key_without_the_scope_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    balance_only = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", name="b", scopes=["balance:read"]
    )
    headers = bearer(balance_only)
    assert_cortecs_response(await client.get("/v1/manage/users/balance", headers=headers), status=200)
    create = await client.post("/v1/manage/api-keys", json={"name": "nope"}, headers=headers)
    assert "keys:write" in assert_cortecs_response(create, status=403)["error"]
    config = await client.get("/v1/manage/project-configs", headers=headers)
    assert_cortecs_response(config, status=403)


async def test_a_created_management_key_inherits_the_callers_reach_and_scopes(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    narrow = await make_key(
        context,
        org_id=org.org_id,
        user_id=org.user_id,
        kind="management",
        name="narrow",
        reach="user",
        scopes=["keys:write", "keys:read"],
    )
    body = {"name": "child", "is_management_key": True}
    created = assert_cortecs_response(
        await client.post("/v1/manage/api-keys", json=body, headers=bearer(narrow)), status=201
    )
    async with session_scope(context.sessions) as session:
        child = (await session.execute(select(ApiKey).where(ApiKey.name == "child"))).scalar_one()
    assert child.reach == "user" and child.scopes == ["keys:write", "keys:read"]
    assert created["is_management_key"] is True


async def test_project_config_rows_are_created_once(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    first = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    second = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert first["_id"] == second["_id"]
    async with session_scope(context.sessions) as session:
        assert (await session.execute(select(func.count()).select_from(ProjectConfig))).scalar_one() == 1


async def test_concurrent_creates_with_one_name_make_one_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    async def create() -> httpx.Response:
        return await client.post(
            "/v1/manage/api-keys", json={"name": "same"}, headers=bearer(org.management_key)
        )

    responses = await asyncio.gather(*(create() for _ in range(4)))
    for response in responses:
        assert_cortecs_response(response)
    assert sorted(r.status_code for r in responses) == [201, 400, 400, 400]
    async with session_scope(context.sessions) as session:
        count = (await session.execute(select(func.count()).where(ApiKey.name == "same"))).scalar_one()
    assert count == 1
