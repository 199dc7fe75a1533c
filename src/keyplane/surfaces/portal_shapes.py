"""The portal's answers: the {meta, data} envelope and the key, balance and usage objects."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.scopes import ALL_SCOPES
from keyplane.models import ApiKey
from keyplane.surfaces.error_handlers import request_id_of
from keyplane.surfaces.portal_usage import UsagePage

T = TypeVar("T")


class PortalMeta(BaseModel):
    """code 0 and "success" on every success; errors carry the HTTP status instead."""

    code: int
    message: str
    request_id: str


class PortalAnswer(BaseModel, Generic[T]):
    meta: PortalMeta
    data: T


class PortalKey(BaseModel):
    """A key; times in Unix seconds, 0 for never (expiry) or not yet (last use)."""

    id: str
    org_id: str
    name: str
    description: str
    status: str = Field(description="active, revoked or expired")
    display: str
    last_used_at: int
    expires_at: int
    created_at: int
    scopes: list[str]
    reach: str
    previous_key_expires_at: int = Field(
        description="Unix seconds until the secret before the last rotation stops working; 0: none"
    )


class CreatedPortalKey(PortalKey):
    """The new key; `api_key` is its plaintext, shown this once."""

    api_key: str


class DeletedPortalKey(BaseModel):
    id: str


class PortalBalance(BaseModel):
    balance: float
    balance_str: str
    coupon_balance: float
    currency_code: str
    credit_limit: float
    total_coupon_amount: float


class PortalUsageItem(BaseModel):
    """One request; prices per million tokens, `amount` what was charged (0 for BYOK)."""

    id: int
    request_id: str
    request_time: int
    user_id: str
    token_id: str
    model: str
    provider: str
    input_token: int
    output_token: int
    cached_token: int
    input_price: float
    output_price: float
    total_amount: float
    amount: float
    is_byok: bool


class PortalUsageRecord(BaseModel):
    timestamp: int
    tokens: int
    model: str
    input_tokens: int
    output_tokens: int
    cost: float


class PortalUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    items: list[PortalUsageItem] = Field(alias="list")
    total: int
    page: int
    pagesize: int
    currency_code: str
    records: list[PortalUsageRecord]
    total_tokens: int


class CreatedKeyAnswer(PortalAnswer[CreatedPortalKey]):
    pass


class KeyAnswer(PortalAnswer[PortalKey]):
    pass


class KeyListAnswer(PortalAnswer[list[PortalKey]]):
    pass


class DeletedKeyAnswer(PortalAnswer[DeletedPortalKey]):
    pass


class BalanceAnswer(PortalAnswer[PortalBalance]):
    pass


class UsageAnswer(PortalAnswer[PortalUsage]):
    pass


def meta(request: Request) -> PortalMeta:
    """Success as the portal writes it; errors get the same envelope from the error handlers."""
    return PortalMeta(code=0, message="success", request_id=request_id_of(request))


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


def key_fields(key: ApiKey, now: datetime) -> dict[str, object]:
    """A key with no scopes listed holds every scope, so it is shown with all of them."""
    return {
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
        "previous_key_expires_at": unix(key.previous_key_expires_at) if key.previous_hash else 0,
    }


def key_object(key: ApiKey, now: datetime) -> PortalKey:
    return PortalKey.model_validate(key_fields(key, now))


def created_key_object(key: ApiKey, now: datetime, plaintext: str) -> CreatedPortalKey:
    return CreatedPortalKey.model_validate({"api_key": plaintext, **key_fields(key, now)})


def balance_object(amount: float, currency_code: str) -> PortalBalance:
    """keyplane has no coupons or credit lines: those figures are always 0."""
    amount = round(amount, 6)
    return PortalBalance(
        balance=amount,
        balance_str=f"{amount:.2f}",
        coupon_balance=0.0,
        currency_code=currency_code,
        credit_limit=0.0,
        total_coupon_amount=0.0,
    )


def _per_million(nanos_per_mtok: int | None) -> float:
    return nanos_to_usd(nanos_per_mtok or 0)


def usage_object(page: UsagePage, *, page_number: int, page_size: int, currency_code: str) -> PortalUsage:
    """Paged `list`/`total` rows plus the `records`/`total_tokens` view; money in the base currency,
    prices per million tokens; `amount` is what was charged (0 for BYOK requests)."""
    items = []
    records = []
    for record in page.records:
        price = page.prices.get(record.model)
        cost = nanos_to_usd(record.cost_nanousd)
        items.append(
            PortalUsageItem(
                id=record.id,
                request_id=record.request_id,
                request_time=unix(record.created_at),
                user_id=record.user_id or "",
                token_id=record.key_id,
                model=record.model,
                provider=record.provider,
                input_token=record.prompt_tokens,
                output_token=record.completion_tokens,
                cached_token=record.cached_tokens,
                input_price=_per_million(price.input_nanousd_per_mtok if price else None),
                output_price=_per_million(price.output_nanousd_per_mtok if price else None),
                total_amount=cost,
                amount=0.0 if record.is_byok else cost,
                is_byok=record.is_byok,
            )
        )
        records.append(
            PortalUsageRecord(
                timestamp=unix(record.created_at),
                tokens=record.prompt_tokens + record.completion_tokens,
                model=record.model,
                input_tokens=record.prompt_tokens,
                output_tokens=record.completion_tokens,
                cost=cost,
            )
        )
    return PortalUsage(
        items=items,
        total=page.total,
        page=page_number,
        pagesize=page_size,
        currency_code=currency_code,
        records=records,
        total_tokens=sum(r.tokens for r in records),
    )
