"""Operator price table for metering: GET/PUT/DELETE /api/v1/model-prices[/{model}] (management keys).

The gateway's price cache drops a change after the request's commit (billing/price_changes.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt

from keyplane.billing.pricing import DEFAULT_PRICES, delete_price, load_prices, price_as_dict, set_price
from keyplane.deps import ManagementPrincipal, Session, require_management_key
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.openrouter_shapes import Deleted

router = APIRouter(
    prefix="/api/v1/model-prices",
    tags=["model prices"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)


class PriceBody(BaseModel):
    """USD per million tokens; `cached` 0 charges cache reads at the input price, `cache_write`
    omitted or null charges cache writes at the input price."""

    model_config = ConfigDict(extra="forbid")

    input: StrictFloat | StrictInt
    output: StrictFloat | StrictInt
    cached: StrictFloat | StrictInt = 0
    cache_write: StrictFloat | StrictInt | None = None


class PriceOut(BaseModel):
    """USD per million tokens; `source` is "default" (built in) or "operator"."""

    model: str
    input: float
    output: float
    cached: float
    cache_write: float
    unit: str
    source: str


class PriceList(BaseModel):
    data: list[PriceOut]


class PriceData(BaseModel):
    data: PriceOut


@router.get("", response_model=PriceList)
async def list_prices(session: Session) -> PriceList:
    table = await load_prices(session)
    return PriceList(
        data=[
            PriceOut.model_validate(
                price_as_dict(
                    model,
                    price,
                    source="default" if DEFAULT_PRICES.get(model) == price else "operator",
                )
            )
            for model, price in sorted(table.items())
        ]
    )


@router.put("/{model:path}", response_model=PriceData)
async def put_price(
    model: str, body: PriceBody, session: Session, principal: ManagementPrincipal
) -> PriceData:
    price = await set_price(
        session=session,
        principal=principal,
        model=model,
        input_usd=float(body.input),
        output_usd=float(body.output),
        cached_usd=float(body.cached),
        cache_write_usd=None if body.cache_write is None else float(body.cache_write),
    )
    return PriceData(data=PriceOut.model_validate(price_as_dict(model.strip(), price, source="operator")))


@router.delete("/{model:path}", response_model=Deleted, responses=error_responses("openrouter", 404))
async def remove_price(model: str, session: Session, principal: ManagementPrincipal) -> Deleted:
    await delete_price(session=session, principal=principal, model=model)
    return Deleted(deleted=True)
