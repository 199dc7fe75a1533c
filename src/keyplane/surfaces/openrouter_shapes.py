"""OpenRouter's key object as its official SDK parses it: every field present, nulls explicit.

One pydantic model per answer, declared as the routes' response_model so /openapi.json says
what the routes really return.
"""

from __future__ import annotations

from datetime import datetime
from typing import overload

from pydantic import BaseModel, Field

from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.windows import next_reset
from keyplane.models import ApiKey
from keyplane.usage.key_usage import KeyUsage


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z suffix, as OpenRouter writes timestamps."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def limit_remaining(key: ApiKey, usage: KeyUsage) -> float | None:
    """What is left of the key's own limit in its current window (never negative)."""
    if key.limit_nanousd is None:
        return None
    spent = usage.window_spend(key.limit_reset, include_byok=key.include_byok_in_limit)
    return nanos_to_usd(max(0, key.limit_nanousd - spent))


class KeySpend(BaseModel):
    """The limit and spend fields every OpenRouter key answer carries."""

    limit: float | None
    limit_remaining: float | None
    limit_reset: str | None
    include_byok_in_limit: bool
    usage: float
    usage_daily: float
    usage_weekly: float
    usage_monthly: float
    byok_usage: float
    byok_usage_daily: float
    byok_usage_weekly: float
    byok_usage_monthly: float

    @staticmethod
    def fields_of(key: ApiKey, usage: KeyUsage) -> dict[str, float | str | bool | None]:
        """The spend fields of one key, read from its usage rollups."""
        return {
            "limit": nanos_to_usd(key.limit_nanousd) if key.limit_nanousd is not None else None,
            "limit_remaining": limit_remaining(key, usage),
            "limit_reset": key.limit_reset,
            "include_byok_in_limit": key.include_byok_in_limit,
            "usage": nanos_to_usd(usage.platform.total),
            "usage_daily": nanos_to_usd(usage.platform.daily),
            "usage_weekly": nanos_to_usd(usage.platform.weekly),
            "usage_monthly": nanos_to_usd(usage.platform.monthly),
            "byok_usage": nanos_to_usd(usage.byok.total),
            "byok_usage_daily": nanos_to_usd(usage.byok.daily),
            "byok_usage_weekly": nanos_to_usd(usage.byok.weekly),
            "byok_usage_monthly": nanos_to_usd(usage.byok.monthly),
        }


class KeyObject(KeySpend):
    """A key in /keys answers."""

    hash: str
    name: str
    label: str
    disabled: bool
    created_at: str | None
    updated_at: str | None
    expires_at: str | None
    last_used_at: str | None
    creator_user_id: str | None
    external_user: str | None
    workspace_id: str | None
    allowed_models: list[str] | None
    rate_limit_rpm: int | None
    rate_limit_tpm: int | None
    allowed_ips: list[str] | None = Field(description="CIDRs the gateway serves; null: any client")
    tags: list[str] | None = Field(description="Tags every request of the key carries in its usage")
    max_concurrency: int | None = Field(description="Requests in flight at most; null: no limit")
    previous_key_expires_at: str | None = Field(
        description="Until then the secret before the last rotation still works; null: none"
    )

    @classmethod
    def of(cls, key: ApiKey, usage: KeyUsage) -> KeyObject:
        return cls.model_validate(
            {
                "hash": key.hash,
                "name": key.name,
                "label": key.label,
                "disabled": key.disabled,
                **cls.fields_of(key, usage),
                "created_at": iso(key.created_at),
                "updated_at": iso(key.updated_at),
                "expires_at": iso(key.expires_at),
                "last_used_at": iso(key.last_used_at),
                "creator_user_id": key.creator_user_id,
                "external_user": key.external_user,
                "workspace_id": key.workspace_id,
                "allowed_models": key.allowed_models,
                "rate_limit_rpm": key.rate_limit_rpm,
                "rate_limit_tpm": key.rate_limit_tpm,
                "allowed_ips": key.allowed_ips,
                "tags": key.tags,
                "max_concurrency": key.max_concurrency,
                "previous_key_expires_at": iso(key.previous_key_expires_at) if key.previous_hash else None,
            }
        )


class KeyData(BaseModel):
    data: KeyObject


class KeyList(BaseModel):
    data: list[KeyObject]


class CreatedKey(BaseModel):
    """The new key; `key` is its plaintext, shown this once."""

    data: KeyObject
    key: str


class Deleted(BaseModel):
    deleted: bool


class KeyBudget(BaseModel):
    budget_id: str | None
    guardrail_id: str | None
    include_byok: bool
    limit_usd: float
    remaining_usd: float
    reset_interval: str | None
    resets_at: str | None
    scope: str
    spend_usd: float


class FreeModelDailyRequests(BaseModel):
    limit: int
    remaining: int
    used: int


class LegacyRateLimit(BaseModel):
    requests: int
    interval: str
    note: str


class CurrentKey(KeySpend):
    """GET /key: the calling key with its budget layers and the legacy fields the SDK requires."""

    label: str
    name: str
    hash: str
    is_free_tier: bool
    is_management_key: bool
    is_provisioning_key: bool
    creator_user_id: str | None
    organization_id: str
    workspace_id: str | None
    expires_at: str | None
    allowed_data_regions: list[str]
    budgets: list[KeyBudget]
    effective_budget: KeyBudget | None
    free_model_daily_requests: FreeModelDailyRequests
    rate_limit: LegacyRateLimit

    @classmethod
    def of(cls, key: ApiKey, usage: KeyUsage, now: datetime) -> CurrentKey:
        remaining = limit_remaining(key, usage)
        budgets = []
        if key.limit_nanousd is not None and remaining is not None:
            budgets.append(
                KeyBudget(
                    budget_id=None,
                    guardrail_id=None,
                    include_byok=key.include_byok_in_limit,
                    limit_usd=nanos_to_usd(key.limit_nanousd),
                    remaining_usd=remaining,
                    reset_interval=key.limit_reset,
                    resets_at=iso(next_reset(key.limit_reset, now)),
                    scope="key_limit",
                    spend_usd=nanos_to_usd(
                        usage.window_spend(key.limit_reset, include_byok=key.include_byok_in_limit)
                    ),
                )
            )
        return cls.model_validate(
            {
                "label": key.label,
                "name": key.name,
                "hash": key.hash,
                **cls.fields_of(key, usage),
                "is_free_tier": False,
                "is_management_key": key.is_management,
                "is_provisioning_key": key.is_management,
                "creator_user_id": key.creator_user_id,
                "organization_id": key.org_id,
                "workspace_id": key.workspace_id,
                "expires_at": iso(key.expires_at),
                "allowed_data_regions": ["global"],
                "budgets": budgets,
                "effective_budget": budgets[0] if budgets else None,
                "free_model_daily_requests": FreeModelDailyRequests(limit=0, remaining=0, used=0),
                "rate_limit": LegacyRateLimit(
                    requests=key.rate_limit_rpm or -1,
                    interval="1m" if key.rate_limit_rpm else "1h",
                    note="This field is deprecated and safe to ignore.",
                ),
            }
        )


class CurrentKeyData(BaseModel):
    data: CurrentKey
