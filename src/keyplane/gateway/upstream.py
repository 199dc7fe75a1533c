"""One pooled HTTP client to the providers, and the URL/header rules of each native API style."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httptools

from keyplane.gateway.http import DeadlineExceeded, HTTPClient, HTTPResponse
from keyplane.net.egress import EgressPolicy, EgressRefused
from keyplane.net.paths import path_segment
from keyplane.providers.eligibility import RoutableCredential

AZURE_DEFAULT_API_VERSION = "2024-10-21"
# Errors after which the next credential may be tried: the request never reached a healthy upstream.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError, httptools.HttpParserError)
DEADLINE_STATUS = 504


class UpstreamFailure(Exception):
    """The upstream could not give a usable answer; `retryable` when another credential may."""

    def __init__(self, message: str, *, status: int = 502, retryable: bool = True, body: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.body = body


def deadline_failure() -> UpstreamFailure:
    """A 504: the answer (a stream: its first bytes) took longer than the upstream deadline."""
    return UpstreamFailure(
        "The provider did not answer within the deadline (KEYPLANE_UPSTREAM_DEADLINE_SECONDS)",
        status=DEADLINE_STATUS,
    )


def upstream_url(credential: RoutableCredential, operation: str, upstream_model: str) -> str:
    """`operation` is "chat/completions", "embeddings" or "models".

    The Azure deployment is one escaped path segment; routing refuses unsafe names before this
    (ValueError here is the last line, never reached by a request that passed admission).
    """
    base = credential.base_url.rstrip("/")
    if credential.api_style == "azure":
        version = quote(credential.azure_api_version or AZURE_DEFAULT_API_VERSION, safe="")
        if operation == "models":
            return f"{base}/openai/models?api-version={version}"
        deployment = path_segment(upstream_model)
        return f"{base}/openai/deployments/{deployment}/{operation}?api-version={version}"
    if credential.api_style == "ollama":
        return f"{base}/v1/{operation}"
    return f"{base}/{operation}"


def upstream_headers(credential: RoutableCredential) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    headers["User-Agent"] = "keyplane"
    if credential.api_key:
        if credential.api_style == "azure":
            headers["api-key"] = credential.api_key
        else:
            headers["Authorization"] = f"Bearer {credential.api_key}"
    return headers


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    content_type: str
    response: HTTPResponse

    @property
    def headers(self) -> dict[str, str]:
        """The answer's headers, names lower-cased."""
        return self.response.headers

    async def read(self) -> bytes:
        return await self.response.read()

    async def first_bytes(self) -> None:
        await self.response.first_bytes()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.iter_chunks():
            yield chunk

    def close(self) -> None:
        self.response.close()


class UpstreamClient:
    """Keep-alive connection pool shared by every request of the process."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        deadline_seconds: float | None = None,
        connect_timeout_seconds: float = 10.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._http = HTTPClient(
            timeout_seconds=timeout_seconds,
            deadline_seconds=deadline_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            egress=egress,
        )

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, *, guarded: bool = False
    ) -> UpstreamResponse:
        """Send and return once the status line and headers arrived (the body is still to read).

        `guarded`: the URL is a tenant's, so the connection passes the egress guard.
        """
        try:
            response = await self._http.send(method, url, headers, body, guarded=guarded)
        except EgressRefused:
            raise UpstreamFailure(
                "The provider's address is not a public internet address; only the operator can "
                "allow private hosts"
            ) from None
        except DeadlineExceeded as exc:
            raise deadline_failure() from exc
        except TRANSPORT_ERRORS as exc:
            raise UpstreamFailure(f"Could not reach the provider: {type(exc).__name__}") from exc
        return UpstreamResponse(
            status=response.status,
            content_type=response.headers.get("content-type", ""),
            response=response,
        )

    async def close(self) -> None:
        await self._http.close()
