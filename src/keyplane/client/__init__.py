"""A small typed HTTP client for keyplane's own API, used by the CLI and importable by users.

    from keyplane.client import KeyplaneClient

    with KeyplaneClient("http://127.0.0.1:8080", management_key="sk_mg_...") as client:
        created = client.create_key("ci", limit=10, limit_reset="monthly")
        print(created.plaintext)          # shown once
        for key in client.list_keys():
            print(key.hash, key.name, key.limit_remaining)

        client.create_budget("org", 100, reset="monthly")
        for group in client.usage_groups("model", start="2025-01-01"):
            print(group["model"], group["cost"])

Every domain has its calls: keys, providers and credentials, usage (and `export_usage_csv`),
budgets, prices, exchange rates, balance, ledger and credits, the org's workspaces and members,
the project config, the audit trail, webhooks. Keys answer dataclasses (`Key`); the other calls answer the
API's JSON typed as TypedDicts (`Budget`, `Credential`, ...; see keyplane.client.types).

`AsyncKeyplaneClient` has the same methods as coroutines. Every non-2xx answer raises
`KeyplaneAPIError(status_code, message)`, parsed from any of keyplane's surface error shapes; a
server that cannot be reached raises `KeyplaneConnectionError`. New endpoints need no new plumbing:
`client.request("GET", "/api/v1/credits")` returns the decoded JSON.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import TracebackType
from typing import Any, BinaryIO, Self, TypeVar, Unpack

import httpx

from keyplane.client import billing, orgs, providers, usage, webhooks
from keyplane.client.calls import UNSET, Call, async_call, path, sync_call
from keyplane.client.calls import Unset as _Unset
from keyplane.client.providers import merged_credential
from keyplane.client.types import (
    AuditEvent,
    AuditPage,
    Balance,
    Budget,
    BudgetScope,
    Credential,
    CredentialChanges,
    CreditEntry,
    Credits,
    EnvVar,
    ExchangeRate,
    InferenceConfig,
    InferenceConfigChanges,
    Invitation,
    LedgerEntry,
    Member,
    Organization,
    Pagination,
    Price,
    ProjectConfig,
    Provider,
    Reset,
    Role,
    UsageFilterArgs,
    UsageGroup,
    UsageGroupBy,
    UsagePage,
    UsageRecord,
    Webhook,
    WebhookDelivery,
    Workspace,
)

__all__ = [
    "UNSET",
    "AsyncKeyplaneClient",
    "AuditEvent",
    "AuditPage",
    "Balance",
    "Budget",
    "BudgetScope",
    "Call",
    "CreatedKey",
    "Credential",
    "CredentialChanges",
    "CreditEntry",
    "Credits",
    "CurrentKey",
    "EnvVar",
    "ExchangeRate",
    "InferenceConfig",
    "InferenceConfigChanges",
    "Invitation",
    "Key",
    "KeyplaneAPIError",
    "KeyplaneClient",
    "KeyplaneClientError",
    "KeyplaneConnectionError",
    "LedgerEntry",
    "Member",
    "Organization",
    "Pagination",
    "Price",
    "ProjectConfig",
    "Provider",
    "Reset",
    "Role",
    "UsageFilterArgs",
    "UsageGroup",
    "UsageGroupBy",
    "UsagePage",
    "UsageRecord",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
    "error_message",
]

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "KEYPLANE_URL"
KEY_ENV = "KEYPLANE_MANAGEMENT_KEY"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_GRACE_SECONDS = 3600  # how long a rotated key's old secret works unless told otherwise
CSV_HEADERS = {"Accept": "text/csv"}
T = TypeVar("T")


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
    allowed_ips: list[str] | None = None
    tags: list[str] | None = None
    max_concurrency: int | None = None
    previous_key_expires_at: datetime | None = None  # the old secret's end after a rotation
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
    allowed_models: list[str] | None = None,
    rate_limit_rpm: int | None = None,
    rate_limit_tpm: int | None = None,
    *,
    allowed_ips: list[str] | None = None,
    tags: list[str] | None = None,
    max_concurrency: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "include_byok_in_limit": include_byok_in_limit}
    for name_, value in (
        ("allowed_models", allowed_models),
        ("rate_limit_rpm", rate_limit_rpm),
        ("rate_limit_tpm", rate_limit_tpm),
        ("allowed_ips", allowed_ips),
        ("tags", tags),
        ("max_concurrency", max_concurrency),
    ):
        if value is not None:
            body[name_] = value
    if limit is not None:
        body["limit"] = limit
    if limit_reset is not None:
        body["limit_reset"] = limit_reset
    if expires_at is not None:
        body["expires_at"] = _iso(expires_at)
    if workspace_id is not None:
        body["workspace_id"] = workspace_id
    return body


def _rotate_path(key_hash: str) -> str:
    return path("/api/v1/keys/{}/rotate", key_hash)


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
        allowed_models: list[str] | None = None,
        rate_limit_rpm: int | None = None,
        rate_limit_tpm: int | None = None,
        allowed_ips: list[str] | None = None,
        tags: list[str] | None = None,
        max_concurrency: int | None = None,
    ) -> CreatedKey:
        """A new inference key; allowed_models, the rpm/tpm limits, allowed_ips (CIDRs) and
        max_concurrency are enforced by the gateway, tags go with every request's usage."""
        body = _create_body(
            name,
            limit,
            limit_reset,
            include_byok_in_limit,
            expires_at,
            workspace_id,
            allowed_models,
            rate_limit_rpm,
            rate_limit_tpm,
            allowed_ips=allowed_ips,
            tags=tags,
            max_concurrency=max_concurrency,
        )
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
        allowed_models: list[str] | _Unset | None = UNSET,
        rate_limit_rpm: int | _Unset | None = UNSET,
        rate_limit_tpm: int | _Unset | None = UNSET,
        allowed_ips: list[str] | _Unset | None = UNSET,
        tags: list[str] | _Unset | None = UNSET,
        max_concurrency: int | _Unset | None = UNSET,
    ) -> Key:
        """Change only the given fields; None clears a limit, limit_reset, expires_at, allowed_models,
        a rate limit, allowed_ips (any client), tags or max_concurrency."""
        body = _update_body(
            name=name,
            disabled=disabled,
            limit=limit,
            limit_reset=limit_reset,
            include_byok_in_limit=include_byok_in_limit,
            expires_at=expires_at,
            allowed_models=allowed_models,
            rate_limit_rpm=rate_limit_rpm,
            rate_limit_tpm=rate_limit_tpm,
            allowed_ips=allowed_ips,
            tags=tags,
            max_concurrency=max_concurrency,
        )
        return Key.from_json(self.request("PATCH", f"/api/v1/keys/{key_hash}", json=body)["data"])

    def delete_key(self, key_hash: str) -> None:
        self.request("DELETE", f"/api/v1/keys/{key_hash}")

    def rotate_key(self, key_hash: str, *, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> CreatedKey:
        """A new secret for the key (shown this once); the old one works for grace_seconds more."""
        answer = self.request("POST", _rotate_path(key_hash), json={"grace_seconds": grace_seconds})
        return CreatedKey(key=Key.from_json(answer["data"]), plaintext=answer["key"])

    def current_key(self) -> CurrentKey:
        return CurrentKey.from_json(self.request("GET", "/api/v1/key")["data"])

    def run(self, call: Call[T]) -> T:
        """Send one described call and read its answer; every typed method goes through here."""
        return call.read(self.request(call.method, call.path, params=call.params, json=call.json))

    # One line per typed call; the builders (keyplane.client.<domain>) hold signature and docs.
    list_providers = sync_call(providers.list_providers)
    get_provider = sync_call(providers.get_provider)
    set_provider_base_url = sync_call(providers.set_provider_base_url)
    list_credentials = sync_call(providers.list_credentials)
    get_credential = sync_call(providers.get_credential)
    create_credential = sync_call(providers.create_credential)
    replace_credential = sync_call(providers.replace_credential)
    delete_credential = sync_call(providers.delete_credential)
    refresh_models = sync_call(providers.refresh_models)
    list_usage = sync_call(usage.list_usage)
    usage_groups = sync_call(usage.usage_groups)
    list_budgets = sync_call(billing.list_budgets)
    get_budget = sync_call(billing.get_budget)
    create_budget = sync_call(billing.create_budget)
    update_budget = sync_call(billing.update_budget)
    delete_budget = sync_call(billing.delete_budget)
    list_webhooks = sync_call(webhooks.list_webhooks)
    create_webhook = sync_call(webhooks.create_webhook)
    delete_webhook = sync_call(webhooks.delete_webhook)
    list_webhook_deliveries = sync_call(webhooks.list_webhook_deliveries)
    list_prices = sync_call(billing.list_prices)
    set_price = sync_call(billing.set_price)
    delete_price = sync_call(billing.delete_price)
    balance = sync_call(billing.balance)
    add_credit = sync_call(billing.add_credit)
    list_ledger = sync_call(billing.list_ledger)
    credits = sync_call(billing.credits)
    list_exchange_rates = sync_call(billing.list_exchange_rates)
    set_exchange_rate = sync_call(billing.set_exchange_rate)
    current_org = sync_call(orgs.current_org)
    rename_org = sync_call(orgs.rename_org)
    list_workspaces = sync_call(orgs.list_workspaces)
    create_workspace = sync_call(orgs.create_workspace)
    rename_workspace = sync_call(orgs.rename_workspace)
    list_members = sync_call(orgs.list_members)
    invite_member = sync_call(orgs.invite_member)
    set_member_role = sync_call(orgs.set_member_role)
    remove_member = sync_call(orgs.remove_member)
    list_invitations = sync_call(orgs.list_invitations)
    cancel_invitation = sync_call(orgs.cancel_invitation)
    get_project_config = sync_call(orgs.get_project_config)
    list_audit_events = sync_call(orgs.list_audit_events)

    def update_credential(
        self, provider: str, key_id: str, **changes: Unpack[CredentialChanges]
    ) -> Credential:
        """Change only the given fields: reads the credential and writes it back whole (PUT).

        Read-modify-write: a change another caller makes in between is overwritten.
        """
        current = self.get_credential(provider, key_id)
        return self.replace_credential(provider, key_id, merged_credential(current, provider, changes))

    def update_project_config(
        self, inference_config: InferenceConfigChanges, *, allow_overwrite: bool | None = None
    ) -> ProjectConfig:
        """Set the given inference-config fields of the key's workspace; returns the new config."""
        self.run(orgs.put_project_config(dict(inference_config), allow_overwrite=allow_overwrite))
        return self.get_project_config()

    def export_usage_csv(self, destination: BinaryIO, **filters: Unpack[UsageFilterArgs]) -> int:
        """Stream the usage CSV export into `destination` chunk by chunk; returns the bytes written."""
        written = 0
        try:
            with self._http.stream(
                "GET", usage.EXPORT_PATH, params=usage.usage_filter(**filters), headers=CSV_HEADERS
            ) as response:
                if response.is_error:
                    response.read()
                    self._decode(response)
                for chunk in response.iter_bytes():
                    destination.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return written


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
        allowed_models: list[str] | None = None,
        rate_limit_rpm: int | None = None,
        rate_limit_tpm: int | None = None,
        allowed_ips: list[str] | None = None,
        tags: list[str] | None = None,
        max_concurrency: int | None = None,
    ) -> CreatedKey:
        """A new inference key; allowed_models, the rpm/tpm limits, allowed_ips (CIDRs) and
        max_concurrency are enforced by the gateway, tags go with every request's usage."""
        body = _create_body(
            name,
            limit,
            limit_reset,
            include_byok_in_limit,
            expires_at,
            workspace_id,
            allowed_models,
            rate_limit_rpm,
            rate_limit_tpm,
            allowed_ips=allowed_ips,
            tags=tags,
            max_concurrency=max_concurrency,
        )
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
        allowed_models: list[str] | _Unset | None = UNSET,
        rate_limit_rpm: int | _Unset | None = UNSET,
        rate_limit_tpm: int | _Unset | None = UNSET,
        allowed_ips: list[str] | _Unset | None = UNSET,
        tags: list[str] | _Unset | None = UNSET,
        max_concurrency: int | _Unset | None = UNSET,
    ) -> Key:
        """Change only the given fields; None clears a limit, limit_reset, expires_at, allowed_models,
        a rate limit, allowed_ips (any client), tags or max_concurrency."""
        body = _update_body(
            name=name,
            disabled=disabled,
            limit=limit,
            limit_reset=limit_reset,
            include_byok_in_limit=include_byok_in_limit,
            expires_at=expires_at,
            allowed_models=allowed_models,
            rate_limit_rpm=rate_limit_rpm,
            rate_limit_tpm=rate_limit_tpm,
            allowed_ips=allowed_ips,
            tags=tags,
            max_concurrency=max_concurrency,
        )
        answer = await self.request("PATCH", f"/api/v1/keys/{key_hash}", json=body)
        return Key.from_json(answer["data"])

    async def delete_key(self, key_hash: str) -> None:
        await self.request("DELETE", f"/api/v1/keys/{key_hash}")

    async def rotate_key(self, key_hash: str, *, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> CreatedKey:
        """A new secret for the key (shown this once); the old one works for grace_seconds more."""
        answer = await self.request("POST", _rotate_path(key_hash), json={"grace_seconds": grace_seconds})
        return CreatedKey(key=Key.from_json(answer["data"]), plaintext=answer["key"])

    async def current_key(self) -> CurrentKey:
        return CurrentKey.from_json((await self.request("GET", "/api/v1/key"))["data"])

    async def run(self, call: Call[T]) -> T:
        """Send one described call and read its answer; every typed method goes through here."""
        return call.read(await self.request(call.method, call.path, params=call.params, json=call.json))

    # One line per typed call; the builders (keyplane.client.<domain>) hold signature and docs.
    list_providers = async_call(providers.list_providers)
    get_provider = async_call(providers.get_provider)
    set_provider_base_url = async_call(providers.set_provider_base_url)
    list_credentials = async_call(providers.list_credentials)
    get_credential = async_call(providers.get_credential)
    create_credential = async_call(providers.create_credential)
    replace_credential = async_call(providers.replace_credential)
    delete_credential = async_call(providers.delete_credential)
    refresh_models = async_call(providers.refresh_models)
    list_usage = async_call(usage.list_usage)
    usage_groups = async_call(usage.usage_groups)
    list_budgets = async_call(billing.list_budgets)
    get_budget = async_call(billing.get_budget)
    create_budget = async_call(billing.create_budget)
    update_budget = async_call(billing.update_budget)
    delete_budget = async_call(billing.delete_budget)
    list_webhooks = async_call(webhooks.list_webhooks)
    create_webhook = async_call(webhooks.create_webhook)
    delete_webhook = async_call(webhooks.delete_webhook)
    list_webhook_deliveries = async_call(webhooks.list_webhook_deliveries)
    list_prices = async_call(billing.list_prices)
    set_price = async_call(billing.set_price)
    delete_price = async_call(billing.delete_price)
    balance = async_call(billing.balance)
    add_credit = async_call(billing.add_credit)
    list_ledger = async_call(billing.list_ledger)
    credits = async_call(billing.credits)
    list_exchange_rates = async_call(billing.list_exchange_rates)
    set_exchange_rate = async_call(billing.set_exchange_rate)
    current_org = async_call(orgs.current_org)
    rename_org = async_call(orgs.rename_org)
    list_workspaces = async_call(orgs.list_workspaces)
    create_workspace = async_call(orgs.create_workspace)
    rename_workspace = async_call(orgs.rename_workspace)
    list_members = async_call(orgs.list_members)
    invite_member = async_call(orgs.invite_member)
    set_member_role = async_call(orgs.set_member_role)
    remove_member = async_call(orgs.remove_member)
    list_invitations = async_call(orgs.list_invitations)
    cancel_invitation = async_call(orgs.cancel_invitation)
    get_project_config = async_call(orgs.get_project_config)
    list_audit_events = async_call(orgs.list_audit_events)

    async def update_credential(
        self, provider: str, key_id: str, **changes: Unpack[CredentialChanges]
    ) -> Credential:
        """Change only the given fields: reads the credential and writes it back whole (PUT).

        Read-modify-write: a change another caller makes in between is overwritten.
        """
        current = await self.get_credential(provider, key_id)
        return await self.replace_credential(provider, key_id, merged_credential(current, provider, changes))

    async def update_project_config(
        self, inference_config: InferenceConfigChanges, *, allow_overwrite: bool | None = None
    ) -> ProjectConfig:
        """Set the given inference-config fields of the key's workspace; returns the new config."""
        await self.run(orgs.put_project_config(dict(inference_config), allow_overwrite=allow_overwrite))
        return await self.get_project_config()

    async def export_usage_csv(self, destination: BinaryIO, **filters: Unpack[UsageFilterArgs]) -> int:
        """Stream the usage CSV export into `destination` chunk by chunk; returns the bytes written."""
        written = 0
        try:
            async with self._http.stream(
                "GET", usage.EXPORT_PATH, params=usage.usage_filter(**filters), headers=CSV_HEADERS
            ) as response:
                if response.is_error:
                    await response.aread()
                    self._decode(response)
                async for chunk in response.aiter_bytes():
                    destination.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return written
