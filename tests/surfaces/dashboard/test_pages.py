"""Dashboard pages over HTTP: what each shows and changes, through the same services as the APIs."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import ProviderCredential
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.writer import UsageEvent, write_usage_batch
from tests.factories import DEFAULT_PASSWORD, make_key
from tests.surfaces.dashboard.helpers import page_csrf, sign_in

SECRET = "sk-provider-secret-never-shown"


@pytest.fixture
async def owner(app: FastAPI, org: BootstrapResult) -> AsyncIterator[httpx.AsyncClient]:
    """The operator org's owner, signed in."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await sign_in(client, org.email, DEFAULT_PASSWORD)).status_code == 303
        yield client


async def post(client: httpx.AsyncClient, path: str, page: str, **fields: str) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await page_csrf(client, page), **fields})


async def test_a_credential_is_added_and_edited_without_its_secret_shown(
    owner: httpx.AsyncClient, context: AppContext
) -> None:
    added = await post(
        owner,
        "/dashboard/providers",
        "/dashboard/providers",
        provider="openai",
        name="main",
        api_key=SECRET,
        models="gpt-test",
    )
    assert added.status_code == 303
    listing = await owner.get("/dashboard/providers")
    assert "main" in listing.text and SECRET not in listing.text
    async with context.sessions() as session:
        row = (await session.execute(select(ProviderCredential))).scalar_one()
    edit_path = f"/dashboard/providers/openai/{row.id}/edit"
    form = await owner.get(edit_path)
    assert form.status_code == 200 and SECRET not in form.text and SECRET[:8] not in form.text
    saved = await post(
        owner, edit_path, edit_path, name="renamed", models="gpt-test, gpt-other", enabled="on"
    )
    assert saved.status_code == 303, saved.text[:500]
    async with context.sessions() as session:
        after = (await session.execute(select(ProviderCredential))).scalar_one()
    assert (after.name, after.models) == ("renamed", ["gpt-test", "gpt-other"])
    assert after.value == row.value  # the stored (encrypted) secret kept


async def test_keys_are_searched_by_name(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    for name in ("billing service", "search bot", "Search_Index"):
        await make_key(context, org_id=org.org_id, user_id=org.user_id, name=name)
    found = await owner.get("/dashboard/keys", params={"q": "search"})
    assert "search bot" in found.text and "Search_Index" in found.text and "billing service" not in found.text
    assert "name contains" in (await owner.get("/dashboard/keys", params={"q": "%"})).text


async def test_usage_pages_groups_and_exports_the_same_rows(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key = await make_key(context, org_id=org.org_id, user_id=org.user_id, name="metered")
    keys = await owner.get("/dashboard/keys")
    key_hash = re.search(r"/dashboard/keys/([0-9a-f]{64})/disable", keys.text)
    assert key and key_hash
    from keyplane.models import ApiKey

    async with context.sessions() as session:
        key_id = (await session.execute(select(ApiKey.id).where(ApiKey.name == "metered"))).scalar_one()
    now = utcnow()
    events = [
        UsageEvent(
            request_id=f"r{index}",
            org_id=org.org_id,
            workspace_id=org.workspace_id,
            key_id=key_id,
            model="model-a" if index % 3 else "model-b",
            user_id=org.user_id,
            cost_nanousd=1000,
            created_at=now - timedelta(days=index % 2, minutes=index),
        )
        for index in range(60)
    ]
    async with session_scope(context.sessions) as session:
        await write_usage_batch(session, events)
    first = await owner.get("/dashboard/usage")
    assert "(60)" in first.text and first.text.count("<tr>") == 51  # header + 50 rows
    second = await owner.get("/dashboard/usage", params={"page": 2})
    assert second.text.count("<tr>") == 11
    by_model = await owner.get("/dashboard/usage", params={"group": "model"})
    assert "model-a" in by_model.text and ">40<" in by_model.text and ">20<" in by_model.text
    today = now.date().isoformat()
    only_b = {"model": "model-b", "from": today, "to": today}
    page = await owner.get("/dashboard/usage", params=only_b)
    assert "(10)" in page.text
    exported = await owner.get("/dashboard/usage/export.csv", params=only_b)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 10 and {row["model"] for row in rows} == {"model-b"}
    link = re.search(r'href="(/dashboard/usage/export\.csv\?[^"]*)"', page.text)
    assert link and "model=model-b" in link.group(1)


async def test_the_overview_shows_spend_with_a_chart_and_its_table(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    empty = await owner.get("/dashboard/")
    assert "No usage yet" in empty.text
    await make_key(context, org_id=org.org_id, user_id=org.user_id, name="spender")
    from keyplane.models import ApiKey

    async with context.sessions() as session:
        key_id = (await session.execute(select(ApiKey.id).where(ApiKey.name == "spender"))).scalar_one()
    event = UsageEvent(
        request_id="spend",
        org_id=org.org_id,
        workspace_id=org.workspace_id,
        key_id=key_id,
        model="model-a",
        cost_nanousd=2_500_000_000,
    )
    async with session_scope(context.sessions) as session:
        await write_usage_batch(session, [event])
    page = await owner.get("/dashboard/")
    assert 'role="img"' in page.text and "Spend per day" in page.text and "$2.50" in page.text
    assert '<th scope="col">Day</th>' in page.text and "spender" in page.text


async def test_an_invitation_shows_its_token_once(owner: httpx.AsyncClient) -> None:
    invited = await post(
        owner, "/dashboard/members/invite", "/dashboard/members", email="new@acme.test", role="admin"
    )
    assert invited.status_code == 200 and 'id="invitation-token"' in invited.text
    token = re.search(r'id="invitation-token" type="text" readonly value="([^"]+)"', invited.text)
    assert token and token.group(1).startswith("kp_inv_")
    again = await owner.get("/dashboard/members")
    assert "new@acme.test" in again.text and token.group(1) not in again.text


async def test_the_operator_creates_suspends_and_resumes_an_org(owner: httpx.AsyncClient) -> None:
    created = await post(
        owner,
        "/dashboard/organizations",
        "/dashboard/organizations",
        name="Globex",
        owner_email="boss@globex.test",
    )
    assert created.status_code == 200 and 'id="owner-token"' in created.text
    org_id = re.search(
        r"organizations/([0-9a-f-]{36})/suspend\"><input[^>]*><button[^>]*\"Suspend Globex\"", created.text
    )
    assert org_id
    suspended = await post(
        owner, f"/dashboard/organizations/{org_id.group(1)}/suspend", "/dashboard/organizations"
    )
    assert suspended.status_code == 303
    listing = await owner.get("/dashboard/organizations")
    assert "Resume Globex" in listing.text and "Org updated" not in listing.text
    await post(owner, f"/dashboard/organizations/{org_id.group(1)}/resume", "/dashboard/organizations")
    assert "Suspend Globex" in (await owner.get("/dashboard/organizations")).text


async def test_the_operator_cannot_suspend_its_own_org(
    owner: httpx.AsyncClient, org: BootstrapResult
) -> None:
    refused = await post(owner, f"/dashboard/organizations/{org.org_id}/suspend", "/dashboard/organizations")
    assert (
        refused.status_code == 409
        and 'role="alert"' in refused.text
        and "cannot suspend itself" in refused.text
    )


async def test_a_workspace_project_config_is_saved_as_the_cortecs_api_would(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    path = f"/dashboard/workspaces/{org.workspace_id}/config"
    page = await owner.get(path)
    assert page.status_code == 200 and 'id="c-providers"' in page.text
    saved = await post(
        owner,
        path,
        path,
        allowed_providers="openai, Mistral",
        preference="cost",
        max_tokens="512",
        enable_model_fallback="on",
    )
    assert saved.status_code == 303
    from keyplane.project_configs.service import get_project_config, inference_config_of

    async with context.sessions() as session:
        config = inference_config_of(
            await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
        )
    assert config["allowed_providers"] == ["openai", "mistral"]
    assert (config["preference"], config["max_tokens"], config["eu_native"]) == ("cost", 512, False)
    refused = await post(owner, path, path, allowed_providers="no-such-provider")
    assert refused.status_code == 404 or refused.status_code == 400
    assert 'role="alert"' in refused.text and "Unknown provider" in refused.text


async def test_the_operator_reads_any_orgs_usage_and_a_tenant_only_its_own(
    owner: httpx.AsyncClient, app: FastAPI, context: AppContext, org: BootstrapResult
) -> None:
    from keyplane.models import ApiKey
    from tests.factories import make_org

    tenant = await make_org(context, name="Globex", email="boss@globex.test")
    await make_key(context, org_id=tenant.org_id, user_id=tenant.user_id, name="globex app")
    async with context.sessions() as session:
        key_id = (await session.execute(select(ApiKey.id).where(ApiKey.name == "globex app"))).scalar_one()
    event = UsageEvent(
        request_id="t1",
        org_id=tenant.org_id,
        workspace_id=tenant.workspace_id,
        key_id=key_id,
        model="tenant-model",
    )
    async with session_scope(context.sessions) as session:
        await write_usage_batch(session, [event])
    own = await owner.get("/dashboard/usage")
    assert "tenant-model" not in own.text and 'id="u-org"' in own.text
    theirs = await owner.get("/dashboard/usage", params={"org": tenant.org_id})
    assert "tenant-model" in theirs.text and "globex app" in theirs.text
    csv_answer = await owner.get("/dashboard/usage/export.csv", params={"org": tenant.org_id})
    assert "tenant-model" in csv_answer.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as boss:
        await sign_in(boss, tenant.email, DEFAULT_PASSWORD)
        mine = await boss.get("/dashboard/usage")
        assert "tenant-model" in mine.text and 'id="u-org"' not in mine.text
        assert (await boss.get("/dashboard/usage", params={"org": org.org_id})).status_code == 403


async def test_the_operator_sets_a_providers_base_url(owner: httpx.AsyncClient) -> None:
    saved = await post(
        owner,
        "/dashboard/provider-settings",
        "/dashboard/providers",
        provider="custom",
        base_url="https://llm.example.com/v1",
    )
    assert saved.status_code == 303
    assert "https://llm.example.com/v1" in (await owner.get("/dashboard/providers")).text
    bad = await post(
        owner, "/dashboard/provider-settings", "/dashboard/providers", provider="custom", base_url="ftp://x"
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text


async def test_a_keys_limits_are_changed_and_cleared(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    from keyplane.models import ApiKey

    created = await post(
        owner, "/dashboard/keys", "/dashboard/keys", name="limited", limit="5", limit_reset="daily", rpm="60"
    )
    assert created.status_code == 200
    async with context.sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.name == "limited"))).scalar_one()
    path = f"/dashboard/keys/{key.hash}/edit"
    form = await owner.get(path)
    assert 'value="5"' in form.text and 'value="60"' in form.text
    saved = await post(owner, path, path, name="limited", limit="7.5", limit_reset="", rpm="", tpm="1000")
    assert saved.status_code == 303
    async with context.sessions() as session:
        after = (await session.execute(select(ApiKey).where(ApiKey.id == key.id))).scalar_one()
    assert (after.limit_nanousd, after.limit_reset, after.rate_limit_rpm, after.rate_limit_tpm) == (
        7_500_000_000,
        None,
        None,
        1000,
    )
    refused = await post(owner, path, path, name="limited", limit="-1")
    assert refused.status_code == 400 and 'role="alert"' in refused.text and 'value="-1"' in refused.text


async def test_budgets_are_added_for_a_key_and_deleted(
    owner: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    from keyplane.models import ApiKey

    await make_key(context, org_id=org.org_id, user_id=org.user_id, name="capped")
    async with context.sessions() as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.name == "capped"))).scalar_one()
    page = await owner.get("/dashboard/budgets")
    assert f'value="{key.hash}"' in page.text and "No budgets" in page.text
    added = await post(
        owner,
        "/dashboard/budgets",
        "/dashboard/budgets",
        name="key cap",
        scope="key",
        key_hash=key.hash,
        limit="3",
        reset="monthly",
    )
    assert added.status_code == 303
    listing = await owner.get("/dashboard/budgets")
    assert "key cap" in listing.text and "$3.00" in listing.text
    budget_id = re.search(r"/dashboard/budgets/([0-9a-f-]{36})/delete", listing.text)
    assert budget_id
    assert (
        await post(owner, f"/dashboard/budgets/{budget_id.group(1)}/delete", "/dashboard/budgets")
    ).status_code == 303
    assert "No budgets" in (await owner.get("/dashboard/budgets")).text
