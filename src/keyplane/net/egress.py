"""The one egress guard: where a URL that a tenant set may lead (public addresses only, unless allowed).

A tenant's URL is checked when it is written (a 400) and again each time a connection is opened,
since DNS may answer differently by then: resolve, check every address, connect to a checked one.
Operator-org and platform credentials, and base URLs the operator sets, never pass through here.
KEYPLANE_ALLOWED_UPSTREAM_HOSTS lists hostnames and CIDRs the operator opens to tenants.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from keyplane.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RESOLVE_TIMEOUT_SECONDS = 5.0
SETTING = "KEYPLANE_ALLOWED_UPSTREAM_HOSTS"
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$"
)


class EgressRefused(BadRequest):
    """A tenant's URL leads somewhere only the operator may send requests."""

    code = "egress_refused"


class HostUnresolvable(OSError):
    """The host has no address now: a transport failure, not a refusal."""


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast, judged on the IPv4 address an IPv6 one embeds (mapped, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None or address.is_site_local:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The operator's exceptions to "public addresses only": exact hostnames and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        if is_public_address(address):
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.networks)


PUBLIC_ONLY = EgressPolicy()


@lru_cache(maxsize=16)
def egress_policy(raw: str) -> EgressPolicy:
    """Parse the setting: comma-separated hostnames and CIDRs (a bare address is a /32 or /128)."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in (part.strip().lower() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".")
        if not _HOSTNAME.match(name):
            raise ValueError(f"{SETTING}: '{entry[:100]}' is neither a hostname nor a CIDR")
        hosts.add(name)
    return EgressPolicy(frozenset(hosts), tuple(networks))


def split_url(url: str, *, field: str = "url") -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL without userinfo; EgressRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused(f"{field} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused(f"{field} must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused(f"{field} must not carry credentials; put them in the key's value")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        raise HostUnresolvable(f"the host '{host[:200]}' could not be resolved") from None
    found: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise HostUnresolvable(f"the host '{host[:200]}' resolved to an unusable address") from None
        if address not in found:
            found.append(address)
    if not found:
        raise HostUnresolvable(f"the host '{host[:200]}' could not be resolved")
    return found


def _refusal(host: str, field: str) -> EgressRefused:
    return EgressRefused(
        f"{field}: '{host[:200]}' is not a public internet address; only the operator can open "
        f"private hosts to organizations ({SETTING})"
    )


async def checked_addresses(host: str, port: int, policy: EgressPolicy, *, field: str = "url") -> list[str]:
    """Connect time: the addresses to connect to, every one allowed; EgressRefused or HostUnresolvable."""
    if policy.allows_host(host):
        return [str(address) for address in await _resolve(host, port)]
    literal = _literal(host)
    if literal is None and _is_localhost(host):
        raise _refusal(host, field)
    addresses = [literal] if literal is not None else await _resolve(host, port)
    if not all(policy.allows_address(address) for address in addresses):
        raise _refusal(host, field)
    return [str(address) for address in addresses]


async def check_url(url: str, policy: EgressPolicy, *, field: str = "url") -> None:
    """Write time: a 400 for a URL leading to a non-public address.

    A host that does not resolve yet is accepted: the connect-time check decides when it does.
    """
    _scheme, host, port = split_url(url, field=field)
    try:
        await checked_addresses(host, port, policy, field=field)
    except HostUnresolvable:
        return
