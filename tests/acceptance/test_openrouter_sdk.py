"""The official `openrouter` SDK (1.3.84), unchanged, driving a real keyplane server on loopback.

One server per backend serves the whole module (starting one takes seconds), so each test works
only with the keys it creates itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from openrouter import OpenRouter, errors

from tests.live_server import LiveServer

# The SDK warns about its own deprecated GetCurrentKeyData.rate_limit, a field it still requires.
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


def sdk(server: LiveServer, api_key: str) -> OpenRouter:
    # retry_config=None: a failure shows at once instead of after the SDK's hour of backoff
    return OpenRouter(api_key=api_key, server_url=server.api_url, retry_config=None)


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    return shared_live_server


@pytest.fixture
def management(live_server: LiveServer) -> Iterator[OpenRouter]:
    with sdk(live_server, live_server.management_key) as client:
        yield client


def mine(keys: list[str], listed: list[str]) -> list[str]:
    """The listed hashes that this test created, in the order the server listed them."""
    return [key_hash for key_hash in listed if key_hash in keys]


def test_create_returns_the_key_once_with_its_limit(management: OpenRouter) -> None:
    created = management.api_keys.create(name="sdk key", limit=25.0, limit_reset="weekly")
    assert created.key.startswith("sk-kp-v1-")
    data = created.data
    assert (data.name, data.limit, data.limit_remaining, data.limit_reset, data.disabled) == (
        "sdk key",
        25.0,
        25.0,
        "weekly",
        False,
    )


def test_create_with_expiry_and_byok_flag(management: OpenRouter) -> None:
    expires = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    created = management.api_keys.create(name="temp", expires_at=expires, include_byok_in_limit=True)
    assert (created.data.expires_at, created.data.include_byok_in_limit) == (expires, True)


def test_list_hides_disabled_keys_unless_asked(management: OpenRouter) -> None:
    active = management.api_keys.create(name="active").data.hash
    disabled = management.api_keys.create(name="disabled").data.hash
    management.api_keys.update(hash=disabled, disabled=True)
    default = [key.hash for key in management.api_keys.list().data]
    everything = [key.hash for key in management.api_keys.list(include_disabled=True).data]
    assert mine([active, disabled], default) == [active]
    assert mine([active, disabled], everything) == [disabled, active]


def test_list_pages_with_offset(management: OpenRouter) -> None:
    hashes = [management.api_keys.create(name=f"k{i}").data.hash for i in range(3)]
    first_page = [key.hash for key in management.api_keys.list().data]
    from_one = [key.hash for key in management.api_keys.list(offset=1).data]
    assert first_page[:3] == list(reversed(hashes))
    assert from_one == first_page[1:]


def test_get_returns_the_key(management: OpenRouter) -> None:
    created = management.api_keys.create(name="lookup", limit=3.0, limit_reset="daily")
    fetched = management.api_keys.get(hash=created.data.hash).data
    assert (fetched.hash, fetched.name, fetched.limit, fetched.usage) == (
        created.data.hash,
        "lookup",
        3.0,
        0.0,
    )


def test_update_renames_disables_and_changes_the_limit(management: OpenRouter) -> None:
    key_hash = management.api_keys.create(name="old", limit=1.0, limit_reset="daily").data.hash
    updated = management.api_keys.update(
        hash=key_hash, name="new", disabled=True, limit=9.5, limit_reset="monthly"
    ).data
    assert (updated.name, updated.disabled, updated.limit, updated.limit_reset) == (
        "new",
        True,
        9.5,
        "monthly",
    )
    assert management.api_keys.get(hash=key_hash).data.name == "new"


def test_update_can_remove_the_limit(management: OpenRouter) -> None:
    key_hash = management.api_keys.create(name="capped", limit=1.0).data.hash
    updated = management.api_keys.update(hash=key_hash, limit=None).data
    assert (updated.limit, updated.limit_remaining) == (None, None)


def test_current_key_metadata_of_a_management_key(live_server: LiveServer, management: OpenRouter) -> None:
    data = management.api_keys.get_current_key_metadata().data
    assert (data.label[:14], data.is_management_key, data.organization_id) == (
        live_server.management_key[:14],
        True,
        live_server.init["org_id"],
    )


def test_current_key_metadata_of_an_inference_key(live_server: LiveServer, management: OpenRouter) -> None:
    created = management.api_keys.create(name="worker", limit=5.0, limit_reset="monthly")
    with sdk(live_server, created.key) as worker:
        data = worker.api_keys.get_current_key_metadata().data
    assert (data.label, data.is_management_key, data.limit_remaining) == (created.data.label, False, 5.0)
    assert data.effective_budget is not None and data.effective_budget.reset_interval == "monthly"


def test_delete_removes_the_key(management: OpenRouter) -> None:
    key_hash = management.api_keys.create(name="doomed").data.hash
    assert management.api_keys.delete(hash=key_hash).DELETED is True
    with pytest.raises(errors.NotFoundResponseError):
        management.api_keys.get(hash=key_hash)


def test_a_bad_key_raises_the_sdks_unauthorized_error(live_server: LiveServer) -> None:
    with (
        sdk(live_server, "sk_mg_" + "0" * 64) as client,
        pytest.raises(errors.UnauthorizedResponseError) as info,
    ):
        client.api_keys.list()
    assert (info.value.status_code, info.value.data.error.code) == (401, 401)


def test_an_inference_key_raises_the_sdks_forbidden_error(
    live_server: LiveServer, management: OpenRouter
) -> None:
    created = management.api_keys.create(name="not a manager")
    with sdk(live_server, created.key) as worker, pytest.raises(errors.ForbiddenResponseError) as info:
        worker.api_keys.create(name="escalation")
    assert info.value.data.error.message == "Not a management key"


def test_an_unknown_hash_raises_the_sdks_not_found_error(management: OpenRouter) -> None:
    with pytest.raises(errors.NotFoundResponseError) as info:
        management.api_keys.update(hash="0" * 64, name="ghost")
    assert info.value.data.error.code == 404


def test_bad_input_raises_the_sdks_bad_request_error(management: OpenRouter) -> None:
    with pytest.raises(errors.BadRequestResponseError) as info:
        management.api_keys.create(name="k", limit=-5.0)
    assert info.value.data.error.code == 400


def test_creator_user_id_may_name_only_the_calling_keys_user(
    live_server: LiveServer, management: OpenRouter
) -> None:
    owner = str(live_server.init["user_id"])
    created = management.api_keys.create(name="own creator", creator_user_id=owner)
    assert created.data.creator_user_id == owner
    invited = httpx.post(
        f"{live_server.api_url}/members",
        json={"email": "sdk-creator@acme.test"},
        headers={"Authorization": f"Bearer {live_server.management_key}"},
    )
    assert invited.status_code == 201, invited.text
    added = httpx.post(
        f"{live_server.api_url}/invitations/accept",
        json={"token": invited.json()["invitation"]["token"], "password": "long-enough-pw"},
    )
    assert added.status_code == 200, added.text
    with pytest.raises(errors.BadRequestResponseError) as info:
        management.api_keys.create(name="theirs", creator_user_id=added.json()["data"]["user_id"])
    assert info.value.data.error.code == 400


async def test_the_async_methods_work_too(live_server: LiveServer) -> None:
    async with sdk(live_server, live_server.management_key) as client:  # closes its async client
        created = await client.api_keys.create_async(name="async")
        listed = await client.api_keys.list_async()
        await client.api_keys.delete_async(hash=created.data.hash)
    assert listed.data[0].hash == created.data.hash
