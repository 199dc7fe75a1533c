"""A small typed HTTP client for keyplane's own API, used by the CLI and importable by users.

    from keyplane.client import KeyplaneClient

    with KeyplaneClient("http://127.0.0.1:8080", management_key="sk_mg_...") as client:
        created = client.create_key("ci", limit=10, limit_reset="monthly")
        print(created.plaintext)          # shown once
        for key in client.list_keys():
            print(key.hash, key.name, key.limit_remaining)

`AsyncKeyplaneClient` has the same methods as coroutines. Every non-2xx answer raises
`KeyplaneAPIError(status_code, message)`, parsed from any of keyplane's surface error shapes; a
server that cannot be reached raises `KeyplaneConnectionError`. New endpoints need no new plumbing:
`client.request("GET", "/api/v1/credits")` returns the decoded JSON.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "KEYPLANE_URL"
KEY_ENV = "KEYPLANE_MANAGEMENT_KEY"
DEFAULT_TIMEOUT_SECONDS = 30.0


class KeyplaneClientError(Exception):
    """Base of everything the client raises."""


class KeyplaneAPIError(KeyplaneClientError):
    """The server answered with an error status; `message` is its human-readable reason."""

    def __init__(self, status_code: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body


class KeyplaneConnectionError(KeyplaneClientError):
    """The server could not be reached (refused, DNS, timeout)."""


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET  # "leave unchanged" in updates, where None means "clear"


def error_message(body: Any, fallback: str) -> str:
    """The message of any keyplane error shape: OpenRouter, OpenAI, Cortecs, portal, Bifrost, FastAPI."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        meta = body.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("message"), str):
            return str(meta["message"])
        for name in ("message", "detail"):
            if isinstance(body.get(name), str):
                return str(body[name])
    return fallback


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    """Construct a result dataclass from JSON, tolerating unknown and missing fields."""
    values: dict[str, Any] = {}
    for spec in fields(cls):
        if spec.name == "raw":
            continue
        if spec.name in data:
            value = data[spec.name]
            values[spec.name] = _parse_time(value) if spec.name.endswith("_at") else value
    return cls(**values, raw=data)


@dataclass(frozen=True, slots=True)
class Key:
    """An API key as the keys API describes it (never the plaintext)."""

    hash: str
    name: str
    label: str = ""
    disabled: bool = False
    limit: float | None = None
    limit_remaining: float | None = None
    limit_reset: str | None = None
    include_byok_in_limit: bool = False
    usage: float = 0.0
    usage_daily: float = 0.0
    usage_weekly: float = 0.0
    usage_monthly: float = 0.0
    byok_usage: float = 0.0
    byok_usage_daily: float = 0.0
    byok_usage_weekly: float = 0.0
    byok_usage_monthly: float = 0.0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    creator_user_id: str | None = None
    external_user: str | None = None
    workspace_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Key:
        key: Key = _build(cls, data)
        return key


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its plaintext, which the server shows only this once."""

    key: Key
    plaintext: str


@dataclass(frozen=True, slots=True)
class CurrentKey:
    """The calling key (GET /api/v1/key), of any kind."""

    hash: str
    name: str
    label: str = ""
    is_management_key: bool = False
    limit: float | None = None
    limit_remaining: float | None = None
    limit_reset: str | None = None
    include_byok_in_limit: bool = False
    usage: float = 0.0
    usage_daily: float = 0.0
    usage_weekly: float = 0.0
    usage_monthly: float = 0.0
    expires_at: datetime | None = None
    creator_user_id: str | None = None
    organization_id: str | None = None
    workspace_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CurrentKey:
        key: CurrentKey = _build(cls, data)
        return key


def _credit_body(amount: float, note: str, user_id: str | None, org_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": amount, "note": note}
    if user_id is not None:
        body["user_id"] = user_id
    if org_id is not None:
        body["org_id"] = org_id
    return body


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def _list_params(
    include_disabled: bool, include_expired: bool, offset: int, workspace_id: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "include_disabled": str(include_disabled).lower(),
        "include_expired": str(include_expired).lower(),
        "offset": offset,
    }
    if workspace_id is not None:
        params["workspace_id"] = workspace_id
    return params


def _create_body(
    name: str,
    limit: float | None,
    limit_reset: str | None,
    include_byok_in_limit: bool,
    expires_at: datetime | str | None,
    workspace_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "include_byok_in_limit": include_byok_in_limit}
    if limit is not None:
        body["limit"] = limit
    if limit_reset is not None:
        body["limit_reset"] = limit_reset
    if expires_at is not None:
        body["expires_at"] = _iso(expires_at)
    if workspace_id is not None:
        body["workspace_id"] = workspace_id
    return body


def _update_body(**changes: Any) -> dict[str, Any]:
    body = {name: value for name, value in changes.items() if value is not UNSET}
    if "expires_at" in body:
        body["expires_at"] = _iso(body["expires_at"])
    return body


class _BaseClient:
    def __init__(
        self,
        base_url: str | None = None,
        management_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        headers: dict[str, str] | None = None,
    ) -> None:
        url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        # Accept the SDK-style ".../api/v1" too: paths below always start at the server root.
        self.base_url = url.removesuffix("/api/v1")
        self.management_key = management_key or os.environ.get(KEY_ENV) or None
        self.timeout = timeout
        self.headers = {"Accept": "application/json", **(headers or {})}
        if self.management_key:
            self.headers["Authorization"] = f"Bearer {self.management_key}"

    def _decode(self, response: httpx.Response) -> Any:
        try:
            body: Any = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_error:
            fallback = response.reason_phrase or response.text[:200] or "request failed"
            raise KeyplaneAPIError(response.status_code, error_message(body, fallback), body)
        return body

    def _unreachable(self, exc: httpx.TransportError) -> KeyplaneConnectionError:
        return KeyplaneConnectionError(f"cannot reach keyplane at {self.base_url}: {exc}")


class KeyplaneClient(_BaseClient):
    """Synchronous client; use as a context manager or call close()."""

    def __init__(
        self,
        base_url: str | None = None,
        management_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, management_key, timeout=timeout, headers=headers)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one request and return the decoded JSON body; errors raise KeyplaneAPIError."""
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return self._decode(response)

    def list_keys(
        self,
        *,
        include_disabled: bool = False,
        include_expired: bool = False,
        offset: int = 0,
        workspace_id: str | None = None,
    ) -> list[Key]:
        """One page (at most 100, newest first) of the org's inference keys."""
        params = _list_params(include_disabled, include_expired, offset, workspace_id)
        body = self.request("GET", "/api/v1/keys", params=params)
        return [Key.from_json(item) for item in body["data"]]

    def create_key(
        self,
        name: str,
        *,
        limit: float | None = None,
        limit_reset: str | None = None,
        include_byok_in_limit: bool = False,
        expires_at: datetime | str | None = None,
        workspace_id: str | None = None,
    ) -> CreatedKey:
        body = _create_body(name, limit, limit_reset, include_byok_in_limit, expires_at, workspace_id)
        answer = self.request("POST", "/api/v1/keys", json=body)
        return CreatedKey(key=Key.from_json(answer["data"]), plaintext=answer["key"])

    def get_key(self, key_hash: str) -> Key:
        return Key.from_json(self.request("GET", f"/api/v1/keys/{key_hash}")["data"])

    def update_key(
        self,
        key_hash: str,
        *,
        name: str | _Unset = UNSET,
        disabled: bool | _Unset = UNSET,
        limit: float | _Unset | None = UNSET,
        limit_reset: str | _Unset | None = UNSET,
        include_byok_in_limit: bool | _Unset = UNSET,
        expires_at: datetime | str | _Unset | None = UNSET,
    ) -> Key:
        """Change only the given fields; None clears limit, limit_reset or expires_at."""
        body = _update_body(
            name=name,
            disabled=disabled,
            limit=limit,
            limit_reset=limit_reset,
            include_byok_in_limit=include_byok_in_limit,
            expires_at=expires_at,
        )
        return Key.from_json(self.request("PATCH", f"/api/v1/keys/{key_hash}", json=body)["data"])

    def delete_key(self, key_hash: str) -> None:
        self.request("DELETE", f"/api/v1/keys/{key_hash}")

    def current_key(self) -> CurrentKey:
        return CurrentKey.from_json(self.request("GET", "/api/v1/key")["data"])

    def balance(self, *, currency: str | None = None) -> dict[str, Any]:
        """The org balance (GET /api/v1/billing/balance), optionally in another currency."""
        params = {"currency": currency} if currency else None
        data: dict[str, Any] = self.request("GET", "/api/v1/billing/balance", params=params)["data"]
        return data

    def add_credit(
        self, amount: float, *, note: str = "", user_id: str | None = None, org_id: str | None = None
    ) -> dict[str, Any]:
        """Credit an org (operator admin, billing:write) in the base currency; returns the ledger entry."""
        body = _credit_body(amount, note, user_id, org_id)
        data: dict[str, Any] = self.request("POST", "/api/v1/billing/credits", json=body)["data"]
        return data

    def list_exchange_rates(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.request("GET", "/api/v1/billing/exchange-rates")["data"]
        return data

    def set_exchange_rate(self, currency_code: str, rate: float) -> dict[str, Any]:
        """Units of currency_code per one unit of the base currency (admin, billing:write)."""
        path = f"/api/v1/billing/exchange-rates/{currency_code}"
        data: dict[str, Any] = self.request("PUT", path, json={"rate": rate})["data"]
        return data


class AsyncKeyplaneClient(_BaseClient):
    """Asynchronous client; use as an async context manager or await aclose()."""

    def __init__(
        self,
        base_url: str | None = None,
        management_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, management_key, timeout=timeout, headers=headers)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one request and return the decoded JSON body; errors raise KeyplaneAPIError."""
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return self._decode(response)

    async def list_keys(
        self,
        *,
        include_disabled: bool = False,
        include_expired: bool = False,
        offset: int = 0,
        workspace_id: str | None = None,
    ) -> list[Key]:
        """One page (at most 100, newest first) of the org's inference keys."""
        params = _list_params(include_disabled, include_expired, offset, workspace_id)
        body = await self.request("GET", "/api/v1/keys", params=params)
        return [Key.from_json(item) for item in body["data"]]

    async def create_key(
        self,
        name: str,
        *,
        limit: float | None = None,
        limit_reset: str | None = None,
        include_byok_in_limit: bool = False,
        expires_at: datetime | str | None = None,
        workspace_id: str | None = None,
    ) -> CreatedKey:
        body = _create_body(name, limit, limit_reset, include_byok_in_limit, expires_at, workspace_id)
        answer = await self.request("POST", "/api/v1/keys", json=body)
        return CreatedKey(key=Key.from_json(answer["data"]), plaintext=answer["key"])

    async def get_key(self, key_hash: str) -> Key:
        return Key.from_json((await self.request("GET", f"/api/v1/keys/{key_hash}"))["data"])

    async def update_key(
        self,
        key_hash: str,
        *,
        name: str | _Unset = UNSET,
        disabled: bool | _Unset = UNSET,
        limit: float | _Unset | None = UNSET,
        limit_reset: str | _Unset | None = UNSET,
        include_byok_in_limit: bool | _Unset = UNSET,
        expires_at: datetime | str | _Unset | None = UNSET,
    ) -> Key:
        """Change only the given fields; None clears limit, limit_reset or expires_at."""
        body = _update_body(
            name=name,
            disabled=disabled,
            limit=limit,
            limit_reset=limit_reset,
            include_byok_in_limit=include_byok_in_limit,
            expires_at=expires_at,
        )
        answer = await self.request("PATCH", f"/api/v1/keys/{key_hash}", json=body)
        return Key.from_json(answer["data"])

    async def delete_key(self, key_hash: str) -> None:
        await self.request("DELETE", f"/api/v1/keys/{key_hash}")

    async def current_key(self) -> CurrentKey:
        return CurrentKey.from_json((await self.request("GET", "/api/v1/key"))["data"])

    async def balance(self, *, currency: str | None = None) -> dict[str, Any]:
        params = {"currency": currency} if currency else None
        data: dict[str, Any] = (await self.request("GET", "/api/v1/billing/balance", params=params))["data"]
        return data

    async def add_credit(
        self, amount: float, *, note: str = "", user_id: str | None = None, org_id: str | None = None
    ) -> dict[str, Any]:
        body = _credit_body(amount, note, user_id, org_id)
        data: dict[str, Any] = (await self.request("POST", "/api/v1/billing/credits", json=body))["data"]
        return data

    async def list_exchange_rates(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = (await self.request("GET", "/api/v1/billing/exchange-rates"))["data"]
        return data

    async def set_exchange_rate(self, currency_code: str, rate: float) -> dict[str, Any]:
        path = f"/api/v1/billing/exchange-rates/{currency_code}"
        data: dict[str, Any] = (await self.request("PUT", path, json={"rate": rate}))["data"]
        return data
