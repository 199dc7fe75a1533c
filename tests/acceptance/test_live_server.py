"""The live server fixture itself: real processes, real HTTP, one database shared by instances."""

from __future__ import annotations

import signal

import httpx

from tests.factories import bearer
from tests.live_server import LiveServer, LiveServerFactory


def test_a_key_created_on_one_instance_is_visible_on_another(
    live_server: LiveServer, live_server_factory: LiveServerFactory
) -> None:
    second = live_server_factory(live_server.env, init=live_server.init)
    headers = bearer(live_server.management_key)
    created = httpx.post(live_server.api_url + "/keys", json={"name": "shared"}, headers=headers)
    assert created.status_code == 201
    fetched = httpx.get(second.api_url + f"/keys/{created.json()['data']['hash']}", headers=headers)
    assert fetched.json()["data"]["name"] == "shared"


def test_a_stopped_server_exits_gracefully_on_sigterm(live_server: LiveServer) -> None:
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown; SIGKILL would be -9
    assert live_server.stop() in (0, -signal.SIGTERM)
    assert not live_server.is_running()
