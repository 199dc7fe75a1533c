"""Native provider routes: the catalog for any caller, settings for the operator's admins."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import AuditEvent
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key, make_org


async def test_any_authenticated_caller_reads_the_catalog(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    key = await make_key(context, org_id=org.org_id, user_id=org.user_id, kind="inference")
    response = await client.get("/api/v1/providers", headers=bearer(key))
    assert response.status_code == 200
    by_name = {p["name"]: p for p in response.json()["data"]}
    assert by_name["mistral"]["eu_native"] is True and by_name["openai"]["api_style"] == "openai"
    assert (await client.get("/api/v1/providers")).status_code == 401


async def test_operator_admin_sets_a_base_url_and_it_is_audited(
    client: httpx.AsyncClient, org: BootstrapResult, session
) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(org.management_key)
    response = await client.put(
        "/api/v1/providers/custom/settings", json={"base_url": "https://llm.internal/v1/"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["base_url"] == "https://llm.internal/v1"
    listed = (await client.get("/api/v1/providers/custom", headers=headers)).json()["data"]
    assert listed["base_url_overridden"] is True
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert "provider_setting.updated" in actions


async def test_other_orgs_cannot_change_platform_settings(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    response = await client.put(
        "/api/v1/providers/openai/settings",
        json={"base_url": "https://attacker.example/v1"},
        headers=bearer(other.management_key),
    )
    assert response.status_code == 403


async def test_base_url_must_be_a_clean_http_url(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    for bad in ("ftp://x", "not a url", "https://user:pw@host/v1", "https://h/v1?key=1"):
        response = await client.put(
            "/api/v1/providers/openai/settings", json={"base_url": bad}, headers=headers
        )
        assert response.status_code == 400, bad
    unknown = await client.put("/api/v1/providers/nope/settings", json={"base_url": None}, headers=headers)
    assert unknown.status_code == 404
