"""The portal's answers: the {meta, data} envelope and the key, balance and usage objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.scopes import ALL_SCOPES
from keyplane.models import ApiKey
from keyplane.surfaces.error_handlers import request_id_of
from keyplane.surfaces.portal_usage import UsagePage


def envelope(request: Request, data: Any) -> dict[str, Any]:
    """Success as the portal writes it; errors get the same envelope from the error handlers."""
    return {"meta": {"code": 0, "message": "success", "request_id": request_id_of(request)}, "data": data}


def portal_status(key: ApiKey, now: datetime) -> str:
    """active, revoked (also a disabled key: both stop it) or expired."""
    if key.revoked or key.disabled:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def unix(value: datetime | None) -> int:
    """Unix seconds; 0 stands for never (expiry) or not yet (last use)."""
    return int(value.timestamp()) if value is not None else 0


def key_object(key: ApiKey, now: datetime, *, plaintext: str | None = None) -> dict[str, Any]:
    """A key with no scopes listed holds every scope, so it is shown with all of them."""
    data: dict[str, Any] = {"api_key": plaintext} if plaintext is not None else {}
    data.update(
        {
            "id": key.id,
            "org_id": key.org_id,
            "name": key.name,
            "description": key.description,
            "status": portal_status(key, now),
            "display": key.label,
            "last_used_at": unix(key.last_used_at),
            "expires_at": unix(key.expires_at),
            "created_at": unix(key.created_at),
            "scopes": list(key.scopes) if key.scopes else list(ALL_SCOPES),
            "reach": key.reach,
        }
    )
    return data


def balance_object(amount: float, currency_code: str) -> dict[str, Any]:
    """keyplane has no coupons or credit lines: those figures are always 0."""
    amount = round(amount, 6)
    return {
        "balance": amount,
        "balance_str": f"{amount:.2f}",
        "coupon_balance": 0.0,
        "currency_code": currency_code,
        "credit_limit": 0.0,
        "total_coupon_amount": 0.0,
    }


def _per_million(nanos_per_mtok: int | None) -> float:
    return nanos_to_usd(nanos_per_mtok or 0)


def usage_object(page: UsagePage, *, page_number: int, page_size: int, currency_code: str) -> dict[str, Any]:
    """Paged `list`/`total` rows plus the `records`/`total_tokens` view; money in the base currency,
    prices per million tokens; `amount` is what was charged (0 for BYOK requests)."""
    items = []
    records = []
    for record in page.records:
        price = page.prices.get(record.model)
        cost = nanos_to_usd(record.cost_nanousd)
        tokens = record.prompt_tokens + record.completion_tokens
        items.append(
            {
                "id": record.id,
                "request_id": record.request_id,
                "request_time": unix(record.created_at),
                "user_id": record.user_id or "",
                "token_id": record.key_id,
                "model": record.model,
                "provider": record.provider,
                "input_token": record.prompt_tokens,
                "output_token": record.completion_tokens,
                "cached_token": record.cached_tokens,
                "input_price": _per_million(price.input_nanousd_per_mtok if price else None),
                "output_price": _per_million(price.output_nanousd_per_mtok if price else None),
                "total_amount": cost,
                "amount": 0.0 if record.is_byok else cost,
                "is_byok": record.is_byok,
            }
        )
        records.append(
            {
                "timestamp": unix(record.created_at),
                "tokens": tokens,
                "model": record.model,
                "input_tokens": record.prompt_tokens,
                "output_tokens": record.completion_tokens,
                "cost": cost,
            }
        )
    return {
        "list": items,
        "total": page.total,
        "page": page_number,
        "pagesize": page_size,
        "currency_code": currency_code,
        "records": records,
        "total_tokens": sum(r["tokens"] for r in records),
    }
