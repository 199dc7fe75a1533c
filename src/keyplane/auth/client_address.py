"""The caller's IP address: the socket peer, or X-Forwarded-For only as far as trusted proxies vouch.

The usual rule: each proxy appends the address it received the request from, so the header is read
right to left, skipping addresses of trusted proxies; the first one that is not a trusted proxy is
the client. Whatever comes back is a parsed IP address (at most 45 characters), never header text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from keyplane.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOPS = 32  # a longer chain is not a real proxy path: stop reading it


def parse_ip(value: str | None) -> IPAddress | None:
    """An IP address from a peer or header entry ("1.2.3.4", "1.2.3.4:80", "[::1]:80"), else None."""
    if not value:
        return None
    text = value.strip()
    if len(text) > 64:
        return None
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:  # "fe80::1%eth0": the zone names our interface, not the client
            address = ipaddress.IPv6Address(text.split("%", 1)[0])
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def valid_ip_text(value: str | None) -> str | None:
    """The canonical text of an IP address, or None for anything else (audit rows store only these)."""
    address = parse_ip(value)
    return str(address) if address is not None else None


def is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def forwarded_hops(header_values: Iterable[str]) -> list[str]:
    """Every X-Forwarded-For entry in order, over repeated headers (proxies may add their own line)."""
    return [hop.strip() for value in header_values for hop in value.split(",")]


def resolve_client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[IPNetwork]
) -> str | None:
    """The client's address: the peer unless it is a trusted proxy, then the header right to left."""
    current = parse_ip(peer)
    if current is None or not trusted or not is_trusted(current, trusted):
        return str(current) if current is not None else None
    for hop in reversed(forwarded_hops(forwarded_for)[-MAX_HOPS:]):
        address = parse_ip(hop)
        if address is None:  # garbage left of a trusted proxy: nothing further left can be believed
            break
        current = address
        if not is_trusted(address, trusted):
            break
    return str(current)


MAX_ALLOWLIST = 100


def parse_allowlist(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs or single addresses (IPv4, IPv6; host bits allowed), deduplicated; ValueError names a bad one."""
    networks: list[IPNetwork] = []
    for entry in entries:
        text = entry.strip() if isinstance(entry, str) else ""
        try:
            network = ipaddress.ip_network(text, strict=False) if 0 < len(text) <= 64 else None
        except ValueError:
            network = None
        if network is None:
            shown = entry[:64] if isinstance(entry, str) else type(entry).__name__
            raise ValueError(f"'{shown}' is not an IP address or CIDR")
        if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
            mapped = network.network_address.ipv4_mapped  # clients are compared as IPv4 (parse_ip)
            network = ipaddress.IPv4Network(f"{mapped}/{max(network.prefixlen - 96, 0)}", strict=False)
        if network not in networks:
            networks.append(network)
    return tuple(networks)


def address_allowed(address: str | None, allowed: Sequence[IPNetwork]) -> bool:
    """Whether a resolved client address lies in one of the allowed networks (no address: never)."""
    parsed = parse_ip(address)
    return parsed is not None and is_trusted(parsed, allowed)
