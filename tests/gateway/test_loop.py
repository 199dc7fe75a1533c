"""A credential pointing at keyplane itself stops after one hop: the gateway marks what it
forwards (a mark every instance of the deployment derives from the secret key, revealing nothing
of it) and answers 508 loop_detected to a request that carries its own mark."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from keyplane.gateway.loop import LOOP_HEADER, loop_mark
from tests.factories import bearer
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

MESSAGES = [{"role": "user", "content": "hi"}]


async def _pointing_at(setup: GatewaySetup, target: ServedApp) -> str:
    """An operator credential whose upstream is a keyplane instance, holding a key valid there."""
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    await setup.add_credential(name="self", models=["loop-model"], url=target.base_url, extra={"value": key})
    return key


async def test_a_credential_pointing_at_the_gateway_stops_at_one_hop(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key = await _pointing_at(setup, served)
    body = {"model": "loop-model", "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 502, "upstream_error")
    assert error["message"] == "The provider answered HTTP 508"
    (row,) = await setup.wait_for_usage(1)  # the nested request was refused before admission
    assert row.error == "The provider answered HTTP 508"


async def test_every_instance_of_the_deployment_recognises_the_mark(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    first, second = serve_app(), serve_app()
    key = await _pointing_at(setup, second)
    body = {"model": "loop-model", "messages": MESSAGES}
    response = await http.post(first.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert assert_openai_error(response, 502)["message"] == "The provider answered HTTP 508"


async def test_a_marked_request_is_refused_in_openais_shape(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    mark = loop_mark(setup.context.secret_key)
    body = {"model": "m", "messages": MESSAGES}
    response = await http.post(
        served.base_url + "/v1/chat/completions", json=body, headers={LOOP_HEADER: mark}
    )
    error = assert_openai_error(response, 508, "loop_detected")
    assert error["type"] == "api_error" and "points at this gateway" in error["message"]
    foreign = await http.post(
        served.base_url + "/v1/chat/completions",
        json=body,
        headers={LOOP_HEADER: loop_mark("another deployment")},
    )
    assert_openai_error(foreign, 401)  # another deployment's mark is not ours: served as usual


async def test_the_mark_sent_upstream_reveals_nothing_of_the_secret(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    body = {"model": "gpt-test", "messages": MESSAGES}
    assert (
        await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    ).status_code == 200
    (sent,) = setup.upstream.requests
    secret = setup.context.secret_key
    assert sent.headers[LOOP_HEADER.lower()] == loop_mark(secret) != loop_mark(secret + "x")
    assert all(secret not in value and secret[:16] not in value for value in sent.headers.values())
