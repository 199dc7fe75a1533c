"""The egress guard's address rules: what counts as public, the operator's exceptions, the setting."""

from __future__ import annotations

import ipaddress

import pytest

from keyplane.config import Settings
from keyplane.net.egress import (
    PUBLIC_ONLY,
    EgressRefused,
    HostUnresolvable,
    check_url,
    checked_addresses,
    egress_policy,
    is_public_address,
)
from tests.fakes.dns import FakeDns

NOT_PUBLIC = [
    "127.0.0.1",
    "127.9.9.9",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://LOCALHOST./v1",
        "http://api.localhost",
        "http://[::1]:8000",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://2130706433/",  # 127.0.0.1 as one decimal number, resolved without DNS
        "http://0x7f.1/",
    ],
)
async def test_loopback_and_metadata_urls_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="not a public internet address"):
        await check_url(url, PUBLIC_ONLY)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://x.test/", "ftp://x.test", "//x.test/v1", "http://"]
)
async def test_only_http_and_https_are_accepted(url: str) -> None:
    with pytest.raises(EgressRefused, match="http"):
        await check_url(url, PUBLIC_ONLY)


async def test_userinfo_in_a_url_is_refused() -> None:
    with pytest.raises(EgressRefused, match="credentials"):
        await check_url("http://user:pw@93.184.216.34/", PUBLIC_ONLY)


async def test_a_name_is_judged_on_every_address_it_resolves_to(fake_dns: FakeDns) -> None:
    fake_dns.answers["mixed.test"] = ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(EgressRefused):
        await checked_addresses("mixed.test", 80, PUBLIC_ONLY)
    fake_dns.answers["public.test"] = ["93.184.216.34"]
    assert await checked_addresses("public.test", 80, PUBLIC_ONLY) == ["93.184.216.34"]


async def test_an_unresolvable_name_is_left_to_connect_time(fake_dns: FakeDns) -> None:
    await check_url("http://nowhere.test/v1", PUBLIC_ONLY)  # accepted when written
    with pytest.raises(HostUnresolvable):
        await checked_addresses("nowhere.test", 80, PUBLIC_ONLY)  # and not reachable when used


async def test_the_operator_opens_a_cidr_or_a_hostname(fake_dns: FakeDns) -> None:
    fake_dns.answers["vllm.corp.test"] = ["10.0.0.7"]
    policy = egress_policy("127.0.0.0/8, vllm.corp.test")
    assert await checked_addresses("127.0.0.1", 8000, policy) == ["127.0.0.1"]
    mapped = await checked_addresses("::ffff:127.0.0.1", 8000, policy)
    assert [ipaddress.ip_address(a) for a in mapped] == [ipaddress.ip_address("::ffff:127.0.0.1")]
    assert await checked_addresses("vllm.corp.test", 8000, policy) == ["10.0.0.7"]
    with pytest.raises(EgressRefused):
        await checked_addresses("10.0.0.7", 8000, policy)  # the name is open, not its network
    with pytest.raises(EgressRefused):
        await checked_addresses("169.254.169.254", 80, policy)


def test_a_malformed_allowed_host_stops_the_settings() -> None:
    with pytest.raises(ValueError, match="neither a hostname nor a CIDR"):
        Settings(allowed_upstream_hosts="10.0.0.0/8, http://x/")
