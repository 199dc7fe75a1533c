"""keyplane.client's typed calls per domain, over the real app (both backends): the answers are the
API's JSON, updates send only what is given, compound calls (read-modify-write, export) hold."""

from __future__ import annotations

import io

import httpx
import pytest
from fastapi import FastAPI

from keyplane.client import UNSET, AsyncKeyplaneClient, KeyplaneAPIError, KeyplaneClient
from keyplane.client.providers import credential_body
from keyplane.orgs.bootstrap import BootstrapResult


def _client(app: FastAPI, key: str) -> AsyncKeyplaneClient:
    return AsyncKeyplaneClient("http://testserver", key, transport=httpx.ASGITransport(app=app))


async def test_budget_calls_answer_the_apis_json(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        created = await client.create_budget("org", 12.5, reset="weekly", name="cap")
        updated = await client.update_budget(created["id"], limit=20, name=UNSET)
        cleared = await client.update_budget(created["id"], reset=None)
        listed = await client.list_budgets(scope="org")
        raw = await client.request("GET", "/api/v1/budgets", params={"scope": "org"})
        await client.delete_budget(created["id"])
        with pytest.raises(KeyplaneAPIError) as gone:
            await client.get_budget(created["id"])
    assert (updated["limit"], updated["reset"], updated["name"]) == (20.0, "weekly", "cap")
    assert (cleared["limit"], cleared["reset"]) == (20.0, None)
    assert listed == raw["data"] == [cleared]
    assert gone.value.status_code == 404


async def test_update_credential_changes_only_the_given_fields_and_keeps_the_secret(
    app: FastAPI, org: BootstrapResult
) -> None:
    body = credential_body("main", provider="openai", value="sk-live-0123456789abcdef", models=["gpt-4o"])
    async with _client(app, org.management_key) as client:
        created = await client.create_credential("openai", body)
        updated = await client.update_credential("openai", created["id"], name="renamed", weight=2.0)
        fetched = await client.get_credential("openai", created["id"])
        listed = await client.list_credentials("openai")
    assert (updated["name"], updated["weight"], updated["models"]) == ("renamed", 2.0, ["gpt-4o"])
    assert updated["value"] == created["value"] and "0123456789abcdef" not in str(updated)
    assert fetched == updated and listed == [updated]


async def test_project_config_update_returns_the_new_config(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        before = await client.get_project_config()
        after = await client.update_project_config({"max_tokens": 256, "preference": "speed"})
    assert before["inference_config"]["max_tokens"] is None
    assert (after["inference_config"]["max_tokens"], after["inference_config"]["preference"]) == (
        256,
        "speed",
    )
    assert after["_id"] == before["_id"] and after["project_id"] == org.workspace_id


async def test_org_calls_list_what_they_create(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        workspace = await client.create_workspace("second")
        renamed = await client.rename_workspace(workspace["id"], "renamed")
        invitation = await client.invite_member("new@example.test", role="admin")
        members = await client.list_members()
        invitations = await client.list_invitations()
        await client.cancel_invitation(invitation["id"])
        current = await client.current_org()
    assert renamed == {**workspace, "name": "renamed"}
    assert invitation["token"] and [i["id"] for i in invitations] == [invitation["id"]]
    assert [m["user_id"] for m in members] == [org.user_id]
    assert current["id"] == org.org_id


async def test_the_usage_export_streams_into_a_file(app: FastAPI, org: BootstrapResult) -> None:
    destination = io.BytesIO()
    async with _client(app, org.management_key) as client:
        written = await client.export_usage_csv(destination, start="2020-01-01", model=None)
        with pytest.raises(KeyplaneAPIError) as refused:
            await client.export_usage_csv(io.BytesIO(), start="not a date")
    assert written == len(destination.getvalue()) > 0
    assert destination.getvalue().startswith(b"id,request_id,created_at,key_hash")
    assert refused.value.status_code == 400


def test_the_sync_client_has_every_typed_call() -> None:
    sync = {name for name in dir(KeyplaneClient) if not name.startswith("_")}
    asynchronous = {name for name in dir(AsyncKeyplaneClient) if not name.startswith("_")}
    assert sync - {"close"} == asynchronous - {"aclose"}
    assert {"list_budgets", "update_credential", "export_usage_csv", "list_audit_events"} <= sync
