"""gateway/access_tokens.py without a server: the token endpoint is a stub the test holds open, so
"one refresh for everyone waiting" and "a waiter that leaves cancels nobody's refresh" are
observed exactly, not raced."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest

from keyplane.gateway.access_tokens import AccessTokens
from keyplane.gateway.upstream import UpstreamFailure
from keyplane.providers.eligibility import RoutableCredential
from tests.fakes import vertex as fake

TOKEN_URI = "https://oauth2.google.test/token"


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    async def read(self) -> bytes:
        return self.body

    def close(self) -> None:
        return None


@dataclass
class _TokenEndpoint:
    """Answers each grant once `release` is set; `status` 400 refuses it as Google would."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    seen: asyncio.Event = field(default_factory=asyncio.Event)  # a grant arrived (sent on the loop)
    grants: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, guarded: bool
    ) -> _Answer:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        self.grants.append({"url": url, "guarded": guarded, **form})
        self.seen.set()
        await self.release.wait()
        if self.status != 200:
            return _Answer(
                self.status, b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
            )
        token = f"ya29.stub-{len(self.grants)}"
        return _Answer(200, json.dumps({"access_token": token, "expires_in": 3600}).encode())


def _credential(*, byok: bool = False) -> RoutableCredential:
    account = json.dumps(fake.service_account(TOKEN_URI))
    return RoutableCredential(
        id="v",
        provider="vertex",
        api_style="vertex",
        base_url="https://europe-west4-aiplatform.googleapis.com",
        api_key=None,
        models=(),
        blacklisted_models=(),
        aliases=MappingProxyType({}),
        weight=1.0,
        is_byok=byok,
        org_id=None,
        eu_native=False,
        zero_data_retention=False,
        quantization=False,
        azure_api_version=None,
        uid="v",
        egress_guarded=False,
        extra=MappingProxyType({"auth_credentials": account}),
    )


async def _wait_for_grant(endpoint: _TokenEndpoint) -> None:
    await asyncio.wait_for(endpoint.seen.wait(), timeout=30)


async def test_everyone_waiting_shares_one_refresh_and_a_waiter_leaving_cancels_nobody() -> None:
    endpoint = _TokenEndpoint()
    tokens = AccessTokens(endpoint.send)
    credential = _credential()
    waiters = [asyncio.create_task(tokens.bearer(credential)) for _ in range(20)]
    await _wait_for_grant(endpoint)
    for waiter in waiters[:5]:
        waiter.cancel()
    endpoint.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results[:5])
    assert results[5:] == ["ya29.stub-1"] * 15
    (grant,) = endpoint.grants
    assert grant["url"] == TOKEN_URI and grant["guarded"] is False
    claims = jwt.decode(grant["assertion"], options={"verify_signature": False})
    assert claims["scope"] == fake.SCOPE and claims["iss"] == fake.CLIENT_EMAIL
    assert await tokens.bearer(credential) == "ya29.stub-1"  # cached now: no second grant
    assert len(endpoint.grants) == 1


async def test_a_refused_grant_fails_every_waiter_once_and_the_next_request_tries_again() -> None:
    endpoint = _TokenEndpoint(status=400)
    tokens = AccessTokens(endpoint.send)
    credential = _credential(byok=True)
    waiters = [asyncio.create_task(tokens.bearer(credential)) for _ in range(10)]
    await _wait_for_grant(endpoint)
    endpoint.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, UpstreamFailure) and "invalid_grant" in r.message for r in results)
    assert len(endpoint.grants) == 1 and endpoint.grants[0]["guarded"] is True  # a tenant's token_uri
    endpoint.status = 200
    assert await tokens.bearer(credential) == "ya29.stub-2"


async def test_an_unparsable_key_is_an_upstream_failure_not_a_crash() -> None:
    tokens = AccessTokens(_TokenEndpoint().send)
    broken = replace(_credential(), extra=MappingProxyType({"auth_credentials": "{"}))
    with pytest.raises(UpstreamFailure) as failure:
        await tokens.bearer(broken)
    assert "cannot be used" in failure.value.message
