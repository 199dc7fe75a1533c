"""A small keep-alive HTTP/1.1 client on asyncio protocols with httptools' C parser.

The gateway sends one kind of request (a JSON POST, an answer that is JSON or server-sent events)
to a handful of hosts, so it needs none of a general client's machinery: one pre-built write per
request, a C parser feeding the body straight to the relay, pooled connections per host, a
read timeout between bytes. Per request this costs a fraction of aiohttp's or httpx's CPU, which
on loopback benchmarks was most of the gateway's own overhead.

A request marked `guarded` (its URL is a tenant's) connects only through the egress guard: the
host is resolved, every address checked, and the connection made to a checked address; such
connections are pooled apart, so a trusted one is never reused for a tenant's URL.

A connection is reused only when its framing stayed clean: bytes arriving while no request waits,
or after a complete response, close it (else they would answer the next request, maybe another
tenant's); interim 1xx responses are skipped. A deadline bounds a whole answer (a stream's up to
its first body bytes) besides the between-bytes timeout, so a dripping upstream cannot hold a
request forever.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

from keyplane.net.egress import PUBLIC_ONLY, EgressPolicy, checked_addresses

MAX_BUFFERED_BODY = 64 * 1024 * 1024
MAX_IDLE_PER_HOST = 256

PoolKey = tuple[str, str, int, bool]  # scheme, host, port, guarded
PARSER_ERRORS = (httptools.HttpParserError, httptools.HttpParserUpgrade)


class DeadlineExceeded(TimeoutError):
    """The answer (a stream: its first body bytes) did not arrive within the request's deadline."""


class UnsafeHeader(ConnectionError):
    """A header value with a line break (a credential's secret, say) would add headers or requests."""


class UncleanFraming(ConnectionError):
    """The provider sent bytes no request asked for; the connection is dropped, never reused."""


class HTTPConnection(asyncio.Protocol):
    """One connection; at most one request in flight."""

    def __init__(self, client: HTTPClient, key: PoolKey) -> None:
        self.client = client
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.used = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.got_bytes = False
        self.expecting = False  # a request was written and its final response is not complete yet
        self.interim = False  # parsing a 1xx interim response, which is skipped
        self.deadline = 0.0  # loop time by which the answer must have arrived; 0: none

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.expecting:  # while idle or after a complete response: framing is lost
            self._fail(UncleanFraming("the provider sent bytes no request asked for"))
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except PARSER_ERRORS as exc:
            self._fail(ConnectionError(f"invalid HTTP from the provider: {exc!r}"))
            return
        if self.buffered > MAX_BUFFERED_BODY:
            self._fail(ConnectionError("the provider's answer is too large"))
            return
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(exc or ConnectionResetError("the provider closed the connection"))

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if not self.expecting:  # a second response in the same bytes: stops the parser
            raise UncleanFraming("the provider sent more than one response")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            if status == 101:
                raise UncleanFraming("the provider switched protocols")
            self.interim = True  # 100 Continue, 103 Early Hints, ...: the final response follows
            self.headers.clear()
            return
        self.status = status
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.keep_alive = self.parser.should_keep_alive()  # only meaningful inside the callbacks
        self.complete = True
        self.expecting = False

    # -- request / response --------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.error is None and not self.complete:
            self.error = exc
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_timeout(self) -> None:
        self._fail(TimeoutError("the provider did not answer in time"))

    def _on_deadline(self) -> None:
        self._fail(DeadlineExceeded("the provider's answer did not arrive within the deadline"))

    async def _wait(self, idle_seconds: float) -> None:
        """Until more bytes (or the end, or an error) arrive; the timeout restarts on every wait,
        the deadline does not."""
        if self.error is not None:
            raise self.error
        self.waiter = self.loop.create_future()
        deadline = self.deadline
        if deadline and deadline - self.loop.time() < idle_seconds:
            self.timer = self.loop.call_at(deadline, self._on_deadline)
        else:
            self.timer = self.loop.call_later(idle_seconds, self._on_timeout)
        try:
            await self.waiter
        finally:
            self.timer.cancel()
            self.waiter = None
        if self.error is not None and not (self.complete or self.chunks):
            raise self.error

    async def request(self, data: bytes, idle_seconds: float, deadline_seconds: float) -> None:
        """Write the request and wait for the status line and headers."""
        self._reset()
        self.used = True
        if self.closed:
            raise ConnectionResetError("the provider closed the connection")
        self.expecting = True
        if deadline_seconds:
            self.deadline = self.loop.time() + deadline_seconds
        assert self.transport is not None
        self.transport.write(data)
        while not self.headers_done:
            await self._wait(idle_seconds)

    def release(self) -> None:
        """Back to the pool when the answer was read to the end and the server keeps the connection."""
        if self.complete and not self.closed and self.keep_alive:
            self.client.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HTTPResponse:
    def __init__(self, connection: HTTPConnection, timeout: float) -> None:
        self.connection = connection
        self.status = connection.status
        self.headers = connection.headers
        self.timeout = timeout
        self._released = False

    async def read(self) -> bytes:
        connection = self.connection
        try:
            while not connection.complete:
                if connection.error is not None:
                    raise connection.error
                await connection._wait(self.timeout)
            return b"".join(connection.chunks)
        finally:
            self.release()

    async def first_bytes(self) -> None:
        """Until the body's first bytes (or its end) arrived, within the deadline, which then stops
        applying: a stream is bounded by the between-bytes timeout alone from here on."""
        connection = self.connection
        while not (connection.chunks or connection.complete):
            if connection.error is not None:
                raise connection.error
            await connection._wait(self.timeout)
        connection.deadline = 0.0

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        connection = self.connection
        try:
            while True:
                if connection.chunks:
                    connection.deadline = 0.0  # the first bytes came: between-bytes timeout only
                while connection.chunks:
                    chunk = connection.chunks.popleft()
                    connection.buffered -= len(chunk)
                    yield chunk
                if connection.complete:
                    return
                if connection.error is not None:
                    raise connection.error
                await connection._wait(self.timeout)
        finally:
            self.release()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.connection.release()

    def close(self) -> None:
        if not self._released:
            self._released = True
            if self.connection.complete:
                self.connection.release()
            else:
                self.connection.close()


class HTTPClient:
    """Pools connections per (scheme, host, port, guarded); verifies TLS with the system's CA store."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        deadline_seconds: float | None = None,
        connect_timeout_seconds: float = 10.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.egress = egress or PUBLIC_ONLY
        self.timeout = timeout_seconds
        self.deadline = deadline_seconds or 0.0
        self.connect_timeout = connect_timeout_seconds
        self._idle: dict[PoolKey, list[HTTPConnection]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._targets: dict[tuple[str, bool], tuple[PoolKey, bytes]] = {}

    def _target(self, url: str, guarded: bool) -> tuple[PoolKey, bytes]:
        """(pool key, request-line target + Host header), parsed once per URL."""
        found = self._targets.get((url, guarded))
        if found is None:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https") or not parts.hostname:
                raise ConnectionError(f"unsupported provider URL scheme '{scheme}'")
            port = parts.port or (443 if scheme == "https" else 80)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.netloc.rsplit("@", 1)[-1]
            if guarded and (parts.username is not None or parts.password is not None):
                raise ConnectionError("provider URL carries credentials")
            key = (scheme, parts.hostname, port, guarded)
            found = (key, f"{target} HTTP/1.1\r\nHost: {host}\r\n".encode())
            if len(self._targets) > 10_000:
                self._targets.clear()
            self._targets[(url, guarded)] = found
        return found

    async def _connect(self, key: PoolKey) -> HTTPConnection:
        scheme, host, port, guarded = key
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        # Guarded: the checked addresses themselves, so a second DNS answer cannot differ.
        targets = await checked_addresses(host, port, self.egress) if guarded else [host]
        failure: OSError | None = None
        for target in targets:
            try:
                _transport, connection = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: HTTPConnection(self, key),
                        target,
                        port,
                        ssl=context,
                        server_hostname=host if context else None,
                    ),
                    timeout=self.connect_timeout,
                )
            except OSError as exc:
                failure = exc
                continue
            return connection
        assert failure is not None
        raise failure

    def put_back(self, connection: HTTPConnection) -> None:
        idle = self._idle.setdefault(connection.key, [])
        if len(idle) < MAX_IDLE_PER_HOST:
            idle.append(connection)
        else:
            connection.close()

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, *, guarded: bool = False
    ) -> HTTPResponse:
        key, target = self._target(url, guarded)
        payload = body or b""
        head = [method.encode(), b" ", target]
        for name, value in headers.items():
            if "\n" in value or "\r" in value:
                raise UnsafeHeader(f"the {name} header holds a line break")
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        head.append(b"Content-Length: %d\r\n\r\n" % len(payload))
        data = b"".join(head) + payload
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.closed:
                continue
            try:
                await connection.request(data, self.timeout, self.deadline)
            except ConnectionError:
                # A kept-alive connection the server closed meanwhile: nothing was answered, retry fresh.
                if connection.got_bytes:
                    raise
                connection.close()
                continue
            return HTTPResponse(connection, self.timeout)
        connection = await self._connect(key)
        try:
            await connection.request(data, self.timeout, self.deadline)
        except BaseException:
            connection.close()
            raise
        return HTTPResponse(connection, self.timeout)

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
