"""OpenRouter's key object as its official SDK parses it: every field present, nulls explicit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.windows import next_reset
from keyplane.models import ApiKey
from keyplane.usage.key_usage import KeyUsage


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z suffix, as OpenRouter writes timestamps."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _usage_fields(usage: KeyUsage) -> dict[str, float]:
    return {
        "usage": nanos_to_usd(usage.platform.total),
        "usage_daily": nanos_to_usd(usage.platform.daily),
        "usage_weekly": nanos_to_usd(usage.platform.weekly),
        "usage_monthly": nanos_to_usd(usage.platform.monthly),
        "byok_usage": nanos_to_usd(usage.byok.total),
        "byok_usage_daily": nanos_to_usd(usage.byok.daily),
        "byok_usage_weekly": nanos_to_usd(usage.byok.weekly),
        "byok_usage_monthly": nanos_to_usd(usage.byok.monthly),
    }


def limit_remaining(key: ApiKey, usage: KeyUsage) -> float | None:
    """What is left of the key's own limit in its current window (never negative)."""
    if key.limit_nanousd is None:
        return None
    spent = usage.window_spend(key.limit_reset, include_byok=key.include_byok_in_limit)
    return nanos_to_usd(max(0, key.limit_nanousd - spent))


def key_object(key: ApiKey, usage: KeyUsage) -> dict[str, Any]:
    return {
        "hash": key.hash,
        "name": key.name,
        "label": key.label,
        "disabled": key.disabled,
        "limit": nanos_to_usd(key.limit_nanousd) if key.limit_nanousd is not None else None,
        "limit_remaining": limit_remaining(key, usage),
        "limit_reset": key.limit_reset,
        "include_byok_in_limit": key.include_byok_in_limit,
        **_usage_fields(usage),
        "created_at": iso(key.created_at),
        "updated_at": iso(key.updated_at),
        "expires_at": iso(key.expires_at),
        "last_used_at": iso(key.last_used_at),
        "creator_user_id": key.creator_user_id,
        "external_user": key.external_user,
        "workspace_id": key.workspace_id,
    }


def current_key_object(key: ApiKey, usage: KeyUsage, now: datetime) -> dict[str, Any]:
    """GET /key: the calling key with its budget layers and the legacy fields the SDK requires."""
    remaining = limit_remaining(key, usage)
    budgets = []
    if key.limit_nanousd is not None and remaining is not None:
        reset_at = next_reset(key.limit_reset, now)
        budgets.append(
            {
                "budget_id": None,
                "guardrail_id": None,
                "include_byok": key.include_byok_in_limit,
                "limit_usd": nanos_to_usd(key.limit_nanousd),
                "remaining_usd": remaining,
                "reset_interval": key.limit_reset,
                "resets_at": iso(reset_at),
                "scope": "key_limit",
                "spend_usd": nanos_to_usd(
                    usage.window_spend(key.limit_reset, include_byok=key.include_byok_in_limit)
                ),
            }
        )
    return {
        "label": key.label,
        "name": key.name,
        "hash": key.hash,
        "limit": nanos_to_usd(key.limit_nanousd) if key.limit_nanousd is not None else None,
        "limit_remaining": remaining,
        "limit_reset": key.limit_reset,
        "include_byok_in_limit": key.include_byok_in_limit,
        **_usage_fields(usage),
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
        "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
        "rate_limit": {
            "requests": key.rate_limit_rpm or -1,
            "interval": "1m" if key.rate_limit_rpm else "1h",
            "note": "This field is deprecated and safe to ignore.",
        },
    }
