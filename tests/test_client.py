"""keyplane.client: typed results over the real app, errors parsed from every surface's shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.client import (
    AsyncKeyplaneClient,
    KeyplaneAPIError,
    KeyplaneClient,
    KeyplaneConnectionError,
    error_message,
)
from keyplane.orgs.bootstrap import BootstrapResult
from tests.live_server import free_port


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"code": 404, "message": "API key not found"}}, "API key not found"),
        ({"error": {"message": "bad model", "type": "invalid_request_error", "code": "x"}}, "bad model"),
        ({"error": "Invalid API key"}, "Invalid API key"),
        ({"meta": {"code": 403, "message": "Forbidden here"}, "data": None}, "Forbidden here"),
        ({"detail": "Not Found"}, "Not Found"),
        (None, "fallback"),
        ("plain text", "fallback"),
    ],
)
def test_error_message_reads_every_error_shape(body: Any, message: str) -> None:
    assert error_message(body, "fallback") == message


def _client(app: FastAPI, key: str) -> AsyncKeyplaneClient:
    return AsyncKeyplaneClient("http://testserver/api/v1", key, transport=httpx.ASGITransport(app=app))


async def test_the_async_client_runs_the_key_lifecycle(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        created = await client.create_key("typed", limit=2.5, limit_reset="daily")
        assert created.plaintext.startswith("sk-kp-v1-")
        assert (created.key.name, created.key.limit, created.key.created_at is not None) == (
            "typed",
            2.5,
            True,
        )
        listed = await client.list_keys()
        updated = await client.update_key(created.key.hash, name="renamed", limit=None)
        fetched = await client.get_key(created.key.hash)
        await client.delete_key(created.key.hash)
        remaining = await client.list_keys(include_disabled=True)
    assert [key.hash for key in listed] == [created.key.hash]
    assert (updated.name, updated.limit, updated.limit_reset) == ("renamed", None, "daily")
    assert fetched == updated
    assert remaining == []


async def test_update_sends_only_the_given_fields(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        created = await client.create_key("partial", limit=4, limit_reset="weekly")
        updated = await client.update_key(created.key.hash, disabled=True)
    assert (updated.disabled, updated.limit, updated.limit_reset) == (True, 4.0, "weekly")


async def test_current_key_is_typed(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        current = await client.current_key()
    assert (current.hash, current.is_management_key, current.organization_id) == (
        org.management_key_hash,
        True,
        org.org_id,
    )


async def test_api_errors_carry_status_and_message(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        with pytest.raises(KeyplaneAPIError) as info:
            await client.get_key("0" * 64)
    assert (info.value.status_code, info.value.message) == (404, "API key not found")


async def test_a_bad_key_is_an_api_error_401(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, "sk_mg_" + "1" * 64) as client:
        with pytest.raises(KeyplaneAPIError) as info:
            await client.list_keys()
    assert info.value.status_code == 401


async def test_request_returns_decoded_json_for_any_route(app: FastAPI, org: BootstrapResult) -> None:
    async with _client(app, org.management_key) as client:
        assert (await client.request("GET", "/healthz"))["status"] == "ok"


def test_an_unreachable_server_is_a_connection_error() -> None:
    with (
        KeyplaneClient(f"http://127.0.0.1:{free_port()}", "sk_mg_x") as client,
        pytest.raises(KeyplaneConnectionError),
    ):
        client.list_keys()


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYPLANE_URL", "http://keyplane.internal:9000/")
    monkeypatch.setenv("KEYPLANE_MANAGEMENT_KEY", "sk_mg_from_env")
    with KeyplaneClient() as client:
        assert client.base_url == "http://keyplane.internal:9000"
        assert client.headers["Authorization"] == "Bearer sk_mg_from_env"
