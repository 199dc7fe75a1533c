"""One key-by-hash lookup (keys.lookup) serves the keys API, usage filters and key budgets alike."""

from __future__ import annotations

import httpx

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org


def _asks(key_hash: str) -> list[tuple[str, str, dict[str, object]]]:
    """The same key hash named to each route that looks a key up by hash."""
    return [
        ("GET", f"/api/v1/keys/{key_hash}", {}),
        ("GET", "/api/v1/usage", {"params": {"key_hash": key_hash}}),
        ("POST", "/api/v1/budgets", {"json": {"scope": "key", "limit": 1, "key_hash": key_hash}}),
    ]


async def test_another_orgs_key_hash_is_a_404_on_every_route(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    theirs = hash_key(await make_key(context, org_id=other.org_id, user_id=other.user_id))
    for method, path, extra in _asks(theirs) + _asks(theirs.upper()) + _asks("not-a-key-hash"):
        response = await client.request(method, path, headers=bearer(org.management_key), **extra)  # type: ignore[arg-type]
        assert response.status_code == 404, (method, path, response.text)


async def test_the_hash_is_read_the_same_way_on_every_route(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine = hash_key(await make_key(context, org_id=org.org_id, user_id=org.user_id))
    for method, path, extra in _asks(f" {mine.upper()} "):
        response = await client.request(method, path, headers=bearer(org.management_key), **extra)  # type: ignore[arg-type]
        assert response.status_code in (200, 201), (method, path, response.text)


async def test_a_members_key_does_not_find_another_members_key(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    own_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    owners = hash_key(await make_key(context, org_id=org.org_id, user_id=org.user_id))
    for method, path, extra in _asks(owners)[:2]:
        response = await client.request(method, path, headers=bearer(own_key), **extra)  # type: ignore[arg-type]
        assert response.status_code == 404, (method, path, response.text)
