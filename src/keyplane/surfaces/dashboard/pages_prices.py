"""Prices and exchange rates (operator admins): the model price table per million tokens, and the
rates balances are shown in. The same billing services as /api/v1/model-prices and exchange-rates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.billing.exchange import list_exchange_rates, set_exchange_rate
from keyplane.billing.pricing import DEFAULT_PRICES, Price, delete_price, load_prices, set_price
from keyplane.deps import Session
from keyplane.errors import BadRequest, Forbidden, KeyplaneError
from keyplane.models import ExchangeRate
from keyplane.surfaces.dashboard.common import context_of
from keyplane.surfaces.dashboard.forms import attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 100


async def prices_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    if not user.is_operator_admin:
        raise Forbidden("Prices belong to the platform: only the operator's owners and admins see this page")
    table = sorted((await load_prices(session)).items())
    return render(
        request,
        "prices.html",
        user,
        title="Prices",
        prices=[(model, price, DEFAULT_PRICES.get(model) == price) for model, price in table],
        rates=await list_exchange_rates(session=session),
        base=context_of(request).settings.base_currency,
        form=form or {},
        error=error,
        status=status,
    )


@router.get("/prices", response_class=HTMLResponse)
async def list_prices(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await prices_page(request, session, user)


@router.post("/prices", response_class=HTMLResponse)
async def put_price(request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)

    async def put() -> Price:
        prompt, completion = (
            form.usd("input", "Input (USD per 1M tokens)"),
            form.usd("output", "Output (USD per 1M tokens)"),
        )
        if prompt is None or completion is None:
            raise BadRequest("Input and output prices are required")
        return await set_price(
            session=session,
            principal=user.principal,
            model=form.text("model"),
            input_usd=prompt,
            output_usd=completion,
            cached_usd=form.usd("cached", "Cached input (USD per 1M tokens)") or 0.0,
        )

    result = await attempt(session, put())
    if isinstance(result, KeyplaneError):
        return await prices_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return done("/prices", "price-saved")


@router.post("/prices/delete", response_class=HTMLResponse)
async def remove_price(request: Request, session: Session, user: SignedIn) -> Response:
    model = (await read_form(request)).text("model")
    result = await attempt(session, delete_price(session=session, principal=user.principal, model=model))
    if isinstance(result, KeyplaneError):
        return await prices_page(request, session, user, error=result.message, status=result.status_code)
    return done("/prices", "price-deleted")


@router.post("/exchange-rates", response_class=HTMLResponse)
async def put_rate(request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)

    async def put() -> ExchangeRate:
        rate = form.usd("units_per_base", "Units per base currency")
        if rate is None:
            raise BadRequest("Units per base currency is required")
        return await set_exchange_rate(
            session=session,
            principal=user.principal,
            currency_code=form.text("currency_code"),
            units_per_base=rate,
            base_currency=context_of(request).settings.base_currency,
        )

    result = await attempt(session, put())
    if isinstance(result, KeyplaneError):
        return await prices_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return done("/prices", "rate-saved")
