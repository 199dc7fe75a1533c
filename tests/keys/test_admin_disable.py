"""A key an owner/admin disabled is enabled again only by an owner/admin, on every surface."""

from __future__ import annotations

import httpx
import pytest

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.kernel.principal import SYSTEM
from keyplane.keys.lifecycle import set_disabled
from keyplane.models import ApiKey
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    member_session,
)

HELD = "An organization admin disabled this key: only an owner or admin can enable it again"


async def _admin_key(context: AppContext, org: BootstrapResult, role: str) -> str:
    if role == "owner":
        return org.management_key
    admin = await add_user(context, org_id=org.org_id, email="admin@acme.test", role="admin")
    return await make_key(context, org_id=org.org_id, user_id=admin, role="admin", kind="management")


async def _member_keys(context: AppContext, org: BootstrapResult) -> tuple[str, str]:
    """A member's management key and one of their inference keys."""
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    management = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    inference = await make_key(context, org_id=org.org_id, user_id=member, role="member", name="theirs")
    return management, inference


async def _patch(client: httpx.AsyncClient, token: str, plaintext: str, disabled: bool) -> httpx.Response:
    return await client.patch(
        f"/api/v1/keys/{hash_key(plaintext)}", json={"disabled": disabled}, headers=bearer(token)
    )


async def _works(client: httpx.AsyncClient, plaintext: str) -> bool:
    status = (await client.get("/api/v1/key", headers=bearer(plaintext))).status_code
    assert status in (200, 401)
    return status == 200


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_a_member_cannot_enable_a_key_an_admin_disabled(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, role: str
) -> None:
    admin = await _admin_key(context, org, role)
    member, theirs = await _member_keys(context, org)
    assert (await _patch(client, admin, theirs, True)).status_code == 200

    refused = await _patch(client, member, theirs, False)
    assert refused.status_code == 403
    assert refused.json() == {"error": {"code": 403, "message": HELD}}
    # Disabling it again does not make it the member's own disable.
    assert (await _patch(client, member, theirs, True)).status_code == 200
    assert (await _patch(client, member, theirs, False)).status_code == 403
    shown = await client.get(f"/api/v1/keys/{hash_key(theirs)}", headers=bearer(member))
    assert shown.json()["data"]["disabled"] is True
    assert not await _works(client, theirs)

    enabled = await _patch(client, admin, theirs, False)
    assert (enabled.status_code, enabled.json()["data"]["disabled"]) == (200, False)
    assert await _works(client, theirs)


async def test_a_member_disables_and_enables_their_own_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member, theirs = await _member_keys(context, org)
    assert (await _patch(client, member, theirs, True)).status_code == 200
    assert not await _works(client, theirs)
    enabled = await _patch(client, member, theirs, False)
    assert (enabled.status_code, enabled.json()["data"]["disabled"]) == (200, False)
    assert await _works(client, theirs)


async def test_once_an_admin_enabled_it_the_member_may_toggle_it_again(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member, theirs = await _member_keys(context, org)
    assert (await _patch(client, org.management_key, theirs, True)).status_code == 200
    assert (await _patch(client, org.management_key, theirs, False)).status_code == 200
    assert (await _patch(client, member, theirs, True)).status_code == 200
    assert (await _patch(client, member, theirs, False)).status_code == 200


async def test_a_member_cannot_restore_a_portal_key_an_admin_disabled(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    _member, jwt = await member_session(client, context, org, "m@acme.test")
    key = await create_portal_key(client, jwt, name="personal")
    assert (await _patch(client, org.management_key, key["api_key"], True)).status_code == 200
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert [k["status"] for k in listed] == ["revoked"]

    restore = {"id": key["id"]}
    assert_portal_error(await client.post(f"{PORTAL}/api-keys/restore", json=restore, headers=jwt), 403, HELD)
    # Revoking it first and restoring that does not get round the hold.
    assert_portal_ok(await client.post(f"{PORTAL}/api-keys/revoke", json=restore, headers=jwt))
    assert_portal_error(await client.post(f"{PORTAL}/api-keys/restore", json=restore, headers=jwt), 403, HELD)
    assert_portal_error(
        await client.get(f"{PORTAL}/balance", headers=bearer(key["api_key"])), 401, "API key revoked"
    )

    assert (await _patch(client, org.management_key, key["api_key"], False)).status_code == 200
    restored = assert_portal_ok(await client.post(f"{PORTAL}/api-keys/restore", json=restore, headers=jwt))
    assert restored["status"] == "active"
    assert_portal_ok(await client.get(f"{PORTAL}/balance", headers=bearer(key["api_key"])))


def test_the_system_principal_disabling_counts_as_an_admin() -> None:
    key = ApiKey(disabled=False, disabled_by_admin=False)
    set_disabled(SYSTEM, key, True)
    assert (key.disabled, key.disabled_by_admin) == (True, True)
    set_disabled(SYSTEM, key, False)
    assert (key.disabled, key.disabled_by_admin) == (False, False)
