"""OAuth access tokens for Google service accounts (Vertex AI), made by google-auth.

One entry per service-account key: google-auth's scoped `Credentials` (parsed once), the current
token and when it stops being used (`REFRESH_MARGIN_SECONDS` before Google's expiry). A refresh
runs google-auth in a worker thread (it signs the RS256 assertion there, CPU work off the event
loop), while the token request itself goes out on the event loop through the gateway's pooled
client, so a tenant's `token_uri` passes the egress guard at connect time like every tenant URL.
Concurrent requests needing one key's token share one refresh: a task per key that each of them
awaits (shielded, so a caller that leaves cancels nobody's), and that all of them see fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.auth import exceptions as google_errors
from google.auth import transport
from google.oauth2 import service_account

from keyplane.errors import BadRequest
from keyplane.gateway.upstream import TRANSPORT_ERRORS, UpstreamFailure, UpstreamResponse
from keyplane.providers.eligibility import RoutableCredential
from keyplane.providers.service_account import credentials, parse_service_account

REFRESH_MARGIN_SECONDS = 300.0  # Google's tokens live an hour; a new one is fetched 5 minutes early
TOKEN_REQUEST_TIMEOUT_SECONDS = 30.0
MAX_ENTRIES = 1024

Send = Callable[..., Awaitable[UpstreamResponse]]


@dataclass(slots=True)
class _Entry:
    credentials: service_account.Credentials
    refreshing: asyncio.Task[str] | None = None  # the one refresh every waiting request awaits
    token: str | None = None
    expires_at: float = 0.0  # on AccessTokens.clock


def _retrieved(task: asyncio.Task[str]) -> None:
    """A refresh whose every waiter left still has its failure read (no "never retrieved" log)."""
    if not task.cancelled():
        task.exception()


class _Answer(transport.Response):
    """The token endpoint's answer, as google-auth reads it."""

    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class _OnLoop(transport.Request):
    """google-auth's transport, called in the worker thread: the request is sent on the event loop
    (the pooled client, the egress guard for a tenant's key) and the thread waits for its answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, *, guarded: bool) -> None:
        self.loop, self.send, self.guarded = loop, send, guarded

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Answer:
        payload = body.encode() if isinstance(body, str) else body
        sent = asyncio.run_coroutine_threadsafe(
            self._fetch(method, url, dict(headers or {}), payload), self.loop
        )
        try:
            return sent.result(timeout=TOKEN_REQUEST_TIMEOUT_SECONDS)
        except FutureTimeout:
            sent.cancel()
            raise google_errors.TransportError("the token endpoint did not answer in time") from None  # type: ignore[no-untyped-call]
        except UpstreamFailure as failure:
            raise google_errors.TransportError(failure.message) from None  # type: ignore[no-untyped-call]
        except Exception as exc:  # anything else the connection raised is a transport failure too
            raise google_errors.TransportError(type(exc).__name__) from None  # type: ignore[no-untyped-call]

    async def _fetch(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> _Answer:
        headers.setdefault("User-Agent", "keyplane")
        response = await self.send(method, url, headers, body, guarded=self.guarded)
        try:
            data = await response.read()
        except TRANSPORT_ERRORS as exc:
            raise UpstreamFailure(f"The token endpoint's answer broke off: {type(exc).__name__}") from None
        finally:
            response.close()
        return _Answer(response.status, response.headers, data)


class AccessTokens:
    """Per-process cache of access tokens, keyed by the service-account key's text."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.clock: Callable[[], float] = time.monotonic  # tests move it to expire tokens
        self._entries: dict[tuple[str, bool], _Entry] = {}

    async def bearer(self, credential: RoutableCredential) -> str:
        """A token for the credential's service account, fetched when none is fresh; UpstreamFailure
        when Google (or the network) refuses one."""
        entry = self._entry(credential)
        if entry.token is not None and self.clock() < entry.expires_at:
            return entry.token
        if entry.refreshing is None:
            entry.refreshing = asyncio.create_task(self._refresh(entry, guarded=credential.is_byok))
            entry.refreshing.add_done_callback(_retrieved)
        # Shielded: a caller that leaves (a client gone) does not cancel the others' refresh.
        return await asyncio.shield(entry.refreshing)

    def forget(self, credential: RoutableCredential) -> None:
        """Google refused a token before its expiry (revoked, the account disabled): the next
        request fetches a new one instead of failing until the cached one expires."""
        text = credential.extra.get("auth_credentials")
        if text:
            found = self._entries.get(self._identity(text, credential))
            if found is not None:
                found.token, found.expires_at = None, 0.0

    @staticmethod
    def _identity(text: str, credential: RoutableCredential) -> tuple[str, bool]:
        # A tenant's token_uri is guarded, even where the operator set the model endpoint's base URL.
        return hashlib.sha256(text.encode()).hexdigest(), credential.is_byok

    def _entry(self, credential: RoutableCredential) -> _Entry:
        text = credential.extra.get("auth_credentials")
        if not text:
            raise UpstreamFailure(
                "The Vertex AI credential has no service account key (an unset environment variable?)",
                retryable=True,
            )
        identity = self._identity(text, credential)
        found = self._entries.get(identity)
        if found is None:
            try:
                info = parse_service_account(text)
            except BadRequest as exc:
                raise UpstreamFailure(f"The Vertex AI credential cannot be used: {exc.message}") from None
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            found = self._entries[identity] = _Entry(credentials(info))
        return found

    async def _refresh(self, entry: _Entry, *, guarded: bool) -> str:
        try:
            return await self._fetch_token(entry, guarded=guarded)
        finally:
            entry.refreshing = None

    async def _fetch_token(self, entry: _Entry, *, guarded: bool) -> str:
        request = _OnLoop(asyncio.get_running_loop(), self.send, guarded=guarded)
        started = self.clock()
        try:
            await asyncio.to_thread(entry.credentials.refresh, request)
        except google_errors.RefreshError as exc:
            said = str(exc.args[0]) if exc.args else "refused"
            raise UpstreamFailure(
                f"Google refused the service account's token request: {said[:300]}", retryable=True
            ) from None
        except google_errors.TransportError as exc:
            raise UpstreamFailure(f"Could not get a Google access token: {str(exc)[:300]}") from None
        except (google_errors.GoogleAuthError, ValueError, KeyError, TypeError) as exc:
            raise UpstreamFailure(f"Could not get a Google access token: {type(exc).__name__}") from None
        token, expiry = entry.credentials.token, entry.credentials.expiry
        if not isinstance(token, str) or not token:
            raise UpstreamFailure("The token endpoint answered without an access token")
        lifetime = 3600.0
        if isinstance(expiry, datetime):  # google-auth's expiry is naive UTC
            lifetime = (expiry - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
        entry.token = token
        # A short-lived token (a test's, a proxy's) is used for half its life rather than never.
        entry.expires_at = started + lifetime - min(REFRESH_MARGIN_SECONDS, max(lifetime, 0.0) / 2)
        return token
