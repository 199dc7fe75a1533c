"""Concurrent writes to one org's names and people: the database keeps one winner, the rest are a
409 (or 404 for a delete) in the surface's shape, and the audit trail holds one event."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.models import Invitation, Membership, Workspace
from keyplane.orgs.bootstrap import BootstrapResult
from tests.concurrency import at_once, audit_events, count_rows, statuses
from tests.factories import add_user, bearer
from tests.surfaces.shapes import assert_error_shape


async def test_concurrent_creates_of_one_workspace_name_write_one_row(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    """Names are unique per org whatever their case: 50 racing creates ("Team", "TEAM", ...) make one."""
    headers = bearer(org.management_key)
    spellings = ("Team", "team", "TEAM", "tEaM")
    responses = await at_once(
        50,
        lambda i: client.post("/api/v1/workspaces", json={"name": spellings[i % 4]}, headers=headers),
    )
    assert statuses(responses) == [201] + [409] * 49
    for response in responses:
        if response.status_code == 409:
            assert_error_shape(response, 409)
    assert await count_rows(context, Workspace, Workspace.org_id == org.org_id) == 2  # and Default
    assert await audit_events(context, "workspace.created") == 1


async def test_concurrent_renames_to_one_name_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    ids = []
    for name in ("a", "b", "c", "d"):
        created = await client.post("/api/v1/workspaces", json={"name": name}, headers=headers)
        ids.append(created.json()["data"]["id"])
    responses = await at_once(
        4, lambda i: client.patch(f"/api/v1/workspaces/{ids[i]}", json={"name": "Same"}, headers=headers)
    )
    assert statuses(responses) == [200, 409, 409, 409]
    listed = await client.get("/api/v1/workspaces", headers=headers)
    assert sorted(w["name"] for w in listed.json()["data"]).count("Same") == 1


async def test_concurrent_invitations_of_one_email_make_one(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    """One open invitation per email and org: the racing adds of one person get one token, the rest 409."""
    headers = bearer(org.management_key)
    responses = await at_once(
        20,
        lambda i: client.post(
            "/api/v1/members", json={"email": "New@Acme.test" if i % 2 else "new@acme.test"}, headers=headers
        ),
    )
    assert statuses(responses) == [201] + [409] * 19
    assert_error_shape(next(r for r in responses if r.status_code == 409), 409)
    assert await count_rows(context, Invitation, Invitation.email == "new@acme.test") == 1
    assert await audit_events(context, "invitation.created") == 1


async def test_an_invitation_cancelled_or_accepted_can_be_sent_again(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    first = await client.post("/api/v1/members", json={"email": "n@acme.test"}, headers=headers)
    assert first.status_code == 201
    assert (
        await client.post("/api/v1/members", json={"email": "n@acme.test"}, headers=headers)
    ).status_code == 409
    cancelled = await client.delete(
        f"/api/v1/invitations/{first.json()['invitation']['id']}", headers=headers
    )
    assert cancelled.status_code == 200
    again = await client.post("/api/v1/members", json={"email": "n@acme.test"}, headers=headers)
    assert again.status_code == 201
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": again.json()["invitation"]["token"], "password": "long-enough-pw"},
    )
    assert accepted.status_code == 200
    # Accepted: no longer open, so a later invitation (say, after removal) is possible.
    assert (
        await client.post("/api/v1/members", json={"email": "n@acme.test"}, headers=headers)
    ).status_code == 201


async def test_concurrent_removals_of_one_member_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    user_id = await add_user(context, org_id=org.org_id, email="m@acme.test")
    responses = await at_once(12, lambda _: client.delete(f"/api/v1/members/{user_id}", headers=headers))
    assert statuses(responses) == [200] + [404] * 11
    assert await count_rows(context, Membership, Membership.user_id == user_id) == 0
    assert await audit_events(context, "member.removed") == 1


@pytest.mark.parametrize("method", ["PATCH", "DELETE"], ids=["demote", "remove"])
async def test_two_owners_demoted_or_removed_at_once_leave_one_owner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult, method: str
) -> None:
    """The last-owner rule holds under races: the owners are counted with the org row locked."""
    headers = bearer(org.management_key)
    other = await add_user(context, org_id=org.org_id, email="o2@acme.test", role="owner")
    body = {"role": "admin"} if method == "PATCH" else None
    responses = await at_once(
        2,
        lambda i: client.request(
            method, f"/api/v1/members/{(org.user_id, other)[i]}", json=body, headers=headers
        ),
    )
    # One winner. The loser gets 409 (it would remove the last owner) or, when the winner demoted or
    # removed the management key's own creator, 403 (the caller is no longer an owner).
    winner, loser = statuses(responses)
    assert winner == 200 and loser in (403, 409)
    owners = Membership.org_id == org.org_id, Membership.role == "owner"
    assert await count_rows(context, Membership, *owners) == 1
