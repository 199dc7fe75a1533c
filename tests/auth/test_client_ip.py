"""The audited (and login-throttled) client IP: X-Forwarded-For counts only through trusted proxies,
and nothing but a parsed IP address ever reaches the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial

import httpx
import pytest

from keyplane.auth.client_address import resolve_client_ip
from keyplane.config import Settings, parse_networks
from keyplane.context import AppContext
from tests.auth.helpers import serve
from tests.factories import bearer, bootstrap_org
from tests.harness import ServedApp

Served = Callable[..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, AppContext]]]


@pytest.fixture
def served(settings: Settings) -> Served:
    """The app with some settings changed, reached from a chosen socket peer."""
    return partial(serve, settings)


async def _audited_ip(http: httpx.AsyncClient, context: AppContext, forwarded_for: list[str]) -> str | None:
    """Create a key with these X-Forwarded-For lines; the ip_address its audit event recorded."""
    org = await bootstrap_org(context)
    headers = [("Authorization", bearer(org.management_key)["Authorization"])]
    headers += [("X-Forwarded-For", value) for value in forwarded_for]
    created = await http.post("/api/v1/keys", json={"name": "audited"}, headers=headers)
    assert created.status_code == 201, created.text
    events = await http.get(
        "/api/v1/audit-events", params={"action": "key.created"}, headers=bearer(org.management_key)
    )
    address: str | None = events.json()["data"][0]["ip_address"]
    return address


async def test_a_forged_header_is_ignored_when_no_proxy_is_trusted(served: Served) -> None:
    async with served(peer="198.51.100.20") as (http, context):
        assert await _audited_ip(http, context, ["203.0.113.9"]) == "198.51.100.20"


async def test_a_header_from_an_untrusted_peer_is_ignored(served: Served) -> None:
    async with served(peer="198.51.100.20", trusted_proxies="10.0.0.0/8") as (http, context):
        assert await _audited_ip(http, context, ["203.0.113.9"]) == "198.51.100.20"


async def test_a_trusted_proxy_names_the_client_it_received_from(served: Served) -> None:
    async with served(peer="10.0.0.2", trusted_proxies="10.0.0.0/8") as (http, context):
        # The client forged the left entry; the proxy appended the address it really saw.
        assert await _audited_ip(http, context, ["203.0.113.9, 198.51.100.7"]) == "198.51.100.7"


async def test_trusted_hops_are_skipped_right_to_left_over_repeated_headers(served: Served) -> None:
    async with served(peer="10.0.0.2", trusted_proxies="10.0.0.0/8, 192.0.2.1") as (http, context):
        forwarded = ["203.0.113.9, 198.51.100.7", "192.0.2.1, 10.0.0.9"]
        assert await _audited_ip(http, context, forwarded) == "198.51.100.7"


@pytest.mark.parametrize(
    "garbage",
    ["A" * 5000, "not-an-ip", "1.2.3.4.5", "' OR 1=1 --", "::ffff:zzzz", "[" + "1" * 80 + "]"],
    ids=["overlong", "word", "five-octets", "sql", "bad-ipv6", "bracketed-overlong"],
)
async def test_garbage_in_the_header_never_reaches_the_audit_trail(served: Served, garbage: str) -> None:
    """On PostgreSQL a value over VARCHAR(64) used to be a 500; now the proxy's own address is kept."""
    async with served(peer="10.0.0.2", trusted_proxies="10.0.0.0/8") as (http, context):
        assert await _audited_ip(http, context, [garbage]) == "10.0.0.2"


async def test_nothing_left_of_garbage_is_believed(served: Served) -> None:
    async with served(peer="10.0.0.2", trusted_proxies="10.0.0.0/8") as (http, context):
        assert await _audited_ip(http, context, ["203.0.113.9, garbage, 10.0.0.7"]) == "10.0.0.7"


async def test_an_overlong_forged_header_is_harmless_without_trusted_proxies(served: Served) -> None:
    async with served(peer="198.51.100.20") as (http, context):
        assert await _audited_ip(http, context, ["9" * 5000]) == "198.51.100.20"


async def test_a_peer_that_is_no_ip_address_is_recorded_as_none(served: Served) -> None:
    async with served(peer="testclient-" + "x" * 100) as (http, context):
        assert await _audited_ip(http, context, []) is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.0.0.2", ["198.51.100.7:51234"], "198.51.100.7"),
        ("10.0.0.2", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("::ffff:10.0.0.2", ["::ffff:198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),  # every hop trusted: the leftmost
        ("10.0.0.2", [""], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        (None, ["198.51.100.7"], None),
    ],
)
def test_resolution_rules(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    assert resolve_client_ip(peer, forwarded, parse_networks("10.0.0.0/8")) == expected


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [("203.0.113.9", "203.0.113.9"), ("A" * 5000, "127.0.0.1"), ("198.51.100.7, " + "9" * 100, "127.0.0.1")],
    ids=["client", "overlong", "garbage-right"],
)
async def test_a_served_keyplane_resolves_the_header_once_and_keeps_garbage_out(
    serve_app: Callable[..., ServedApp], context: AppContext, forwarded: str, expected: str
) -> None:
    """Over real HTTP as `keyplane serve` runs (uvicorn reads no proxy header): the header is read
    by keyplane's rule alone, so garbage leaves the trusted proxy's own address, never header text."""
    served = serve_app(trusted_proxies="127.0.0.1/32")
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as http:
        assert await _audited_ip(http, context, [forwarded]) == expected
