"""One delivery attempt: POST the payload signed per Standard Webhooks, through the egress guard.

The receiver's host is resolved and checked at every attempt and the connection goes to the
checked address (Host and TLS name stay the URL's), redirects are never followed, and failure
reasons are fixed sentences: a receiver's body is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from keyplane.net.egress import EgressPolicy, EgressRefused, HostUnresolvable, checked_addresses, split_url

if TYPE_CHECKING:  # httpx and standardwebhooks load with the first delivery, not with every server
    import httpx

USER_AGENT = "keyplane-webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024  # read and dropped, so the connection can be reused


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt got: `ok` for a 2xx; otherwise the status (if any) and why, in fixed words."""

    ok: bool
    status_code: int | None = None
    error: str | None = None


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers; the timestamp is the attempt's (receivers check it)."""
    from standardwebhooks.webhooks import Webhook

    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def body_of(payload: Any) -> bytes:
    return orjson.dumps(payload)


async def _pinned(url: str, egress: EgressPolicy) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(URL on a checked address, Host header, TLS name extension)."""
    scheme, host, port = split_url(url)
    address = (await checked_addresses(host, port, egress))[0]
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}")), {"Host": parts.netloc}, extensions


async def deliver(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: str,
    payload: Any,
    egress: EgressPolicy,
    now: datetime,
) -> Attempt:
    """POST once; never raises for anything the receiver or the network does."""
    import httpx

    body = body_of(payload)
    try:
        target, host, extensions = await _pinned(url, egress)
    except EgressRefused:
        return Attempt(False, error="The webhook URL does not lead to a public internet address")
    except HostUnresolvable:
        return Attempt(False, error="The webhook host could not be resolved")
    headers = {
        **host,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signed_headers(secret, message_id, body, now),
    }
    try:
        async with client.stream(
            "POST", target, content=body, headers=headers, extensions=extensions
        ) as response:
            read = 0
            async for chunk in response.aiter_bytes():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
    except httpx.TimeoutException:
        return Attempt(False, error="The receiver did not answer in time")
    except httpx.HTTPError:
        return Attempt(False, error="Could not connect to the receiver")
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code)
    return Attempt(False, response.status_code, f"The receiver answered HTTP {response.status_code}")
