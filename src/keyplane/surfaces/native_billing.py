"""keyplane's own billing routes: balance (in any configured currency), credits, ledger, exchange rates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from keyplane.billing import balances, exchange, ledger
from keyplane.deps import ManagementPrincipal, Session, get_context, require_management_key
from keyplane.errors import BadRequest
from keyplane.kernel.money import is_valid_amount, nanos_to_usd, usd_to_nanos
from keyplane.kernel.scopes import BALANCE_READ, require_scope
from keyplane.models import ExchangeRate, LedgerEntry
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import CodeQuery, Id, IdQuery, Note, OrgIdQuery
from keyplane.surfaces.openrouter_shapes import iso

router = APIRouter(
    prefix="/api/v1/billing",
    tags=["billing"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)
NOT_FOUND = error_responses("openrouter", 404)


class AddCreditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(strict=True, description="In the base currency, greater than 0.")
    note: Note = ""
    user_id: Id | None = None
    org_id: Id | None = Field(
        default=None, description="Org to credit (operator admins); default the caller's."
    )


class SetRateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(strict=True, description="Units of this currency per one unit of the base currency.")


class Balance(BaseModel):
    """`balance` in `currency`; `balance_base` and the totals in the base currency."""

    balance: float
    currency: str
    balance_base: float
    base_currency: str
    user_id: str | None
    total_credits: float
    total_usage: float


class BalanceData(BaseModel):
    data: Balance


class LedgerEntryOut(BaseModel):
    id: int
    amount: float
    currency: str
    kind: str
    note: str
    user_id: str | None
    actor: str
    created_at: str


class CreditAdded(LedgerEntryOut):
    """The new ledger entry and the org's balance after it."""

    balance: float


class CreditAddedData(BaseModel):
    data: CreditAdded


class LedgerPage(BaseModel):
    data: list[LedgerEntryOut]
    page: int
    page_size: int


class RateOut(BaseModel):
    currency_code: str
    base_currency: str
    rate: float
    updated_at: str


class RateList(BaseModel):
    data: list[RateOut]
    base_currency: str


class RateData(BaseModel):
    data: RateOut


def entry_object(entry: LedgerEntry, base_currency: str) -> LedgerEntryOut:
    return LedgerEntryOut(
        id=entry.id,
        amount=nanos_to_usd(entry.amount_nanousd),
        currency=base_currency,
        kind=entry.kind,
        note=entry.note,
        user_id=entry.user_id,
        actor=entry.actor,
        created_at=iso(entry.created_at),
    )


def rate_object(rate: ExchangeRate, base_currency: str) -> RateOut:
    return RateOut(
        currency_code=rate.currency_code,
        base_currency=base_currency,
        rate=rate.units_per_base,
        updated_at=iso(rate.updated_at),
    )


def _base(request: Request) -> str:
    return get_context(request).settings.base_currency


@router.get("/balance", response_model=BalanceData, responses=NOT_FOUND)
async def get_balance(
    request: Request,
    session: Session,
    principal: ManagementPrincipal,
    currency: CodeQuery = None,
    user_id: IdQuery = None,
    org_id: OrgIdQuery = None,
) -> BalanceData:
    """The org's balance (or one member's ledger share), optionally converted to another currency."""
    require_scope(principal, BALANCE_READ)
    reading = await balances.read_balance(
        session=session,
        principal=principal,
        user_id=user_id,
        currency=currency,
        base_currency=_base(request),
        org_id=org_id,
    )
    return BalanceData(
        data=Balance(
            balance=reading.amount,
            currency=reading.currency,
            balance_base=nanos_to_usd(reading.balance_nanos),
            base_currency=_base(request),
            user_id=reading.user_id,
            total_credits=nanos_to_usd(reading.total_credits_nanos),
            total_usage=nanos_to_usd(reading.total_usage_nanos),
        )
    )


@router.post("/credits", status_code=201, response_model=CreditAddedData, responses=NOT_FOUND)
async def add_credit(
    body: AddCreditBody, request: Request, session: Session, principal: ManagementPrincipal
) -> CreditAddedData:
    """Admins (billing:write) credit the org, or one member, in the base currency."""
    if not is_valid_amount(body.amount, allow_zero=False):
        raise BadRequest("amount must be greater than 0 and at most 1000000000")
    entry = await ledger.add_credit(
        session=session,
        principal=principal,
        org_id=body.org_id,
        amount_nanos=usd_to_nanos(body.amount),
        note=body.note,
        user_id=body.user_id,
    )
    balance = await ledger.balance_nanos(session=session, org_id=entry.org_id)
    added = {**entry_object(entry, _base(request)).model_dump(), "balance": nanos_to_usd(balance)}
    return CreditAddedData(data=CreditAdded.model_validate(added))


@router.get("/ledger", response_model=LedgerPage, responses=NOT_FOUND)
async def list_ledger(
    request: Request,
    session: Session,
    principal: ManagementPrincipal,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=ledger.MAX_LEDGER_PAGE_SIZE)] = 100,
    org_id: OrgIdQuery = None,
) -> LedgerPage:
    require_scope(principal, BALANCE_READ)
    entries = await balances.read_ledger(
        session=session, principal=principal, page=page, page_size=page_size, org_id=org_id
    )
    return LedgerPage(data=[entry_object(e, _base(request)) for e in entries], page=page, page_size=page_size)


@router.get("/exchange-rates", response_model=RateList)
async def list_rates(request: Request, session: Session, principal: ManagementPrincipal) -> RateList:
    require_scope(principal, BALANCE_READ)
    rates = await exchange.list_exchange_rates(session=session)
    return RateList(data=[rate_object(r, _base(request)) for r in rates], base_currency=_base(request))


@router.put("/exchange-rates/{currency_code}", response_model=RateData)
async def set_rate(
    currency_code: str, body: SetRateBody, request: Request, session: Session, principal: ManagementPrincipal
) -> RateData:
    """Admins (billing:write) set how many units of a currency one base unit buys."""
    rate = await exchange.set_exchange_rate(
        session=session,
        principal=principal,
        currency_code=currency_code,
        units_per_base=body.rate,
        base_currency=_base(request),
    )
    return RateData(data=rate_object(rate, _base(request)))
