"""keyplane's own budget routes: caps on the org, a workspace or a key (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from keyplane.billing import budgets
from keyplane.deps import BillingWriteAdmin, OrgAdminPrincipal, Session, require_management_key
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.windows import next_reset
from keyplane.models.base import utcnow
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, Id, IdPath
from keyplane.surfaces.openrouter_shapes import Deleted, iso

router = APIRouter(
    prefix="/api/v1/budgets",
    tags=["budgets"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)
NOT_FOUND = error_responses("openrouter", 404)

Reset = Literal["daily", "weekly", "monthly"]
Usd = StrictFloat | StrictInt
BudgetName = Annotated[str, Field(max_length=200, pattern=NO_CONTROL_CHARACTERS)]
KeyHash = Annotated[str, Field(max_length=128, pattern=NO_CONTROL_CHARACTERS)]


class CreateBudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["org", "workspace", "key"]
    limit: Usd = Field(description="USD per window.")
    reset: Reset | None = None
    include_byok: StrictBool = False
    name: BudgetName | None = None
    workspace_id: Id | None = None
    key_hash: KeyHash | None = None


class UpdateBudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Usd | None = None
    reset: Reset | None = None
    include_byok: StrictBool | None = None
    name: BudgetName | None = None


class BudgetOut(BaseModel):
    """A cap in USD per window (`reset` null: over all time); spend and remaining in this window."""

    id: str
    scope: str
    workspace_id: str | None
    key_hash: str | None
    name: str
    limit: float
    reset: str | None
    include_byok: bool
    spend: float
    remaining: float
    resets_at: str | None
    created_at: str


class BudgetData(BaseModel):
    data: BudgetOut


class BudgetList(BaseModel):
    data: list[BudgetOut]


def budget_object(view: budgets.BudgetView, now: datetime) -> BudgetOut:
    budget = view.budget
    return BudgetOut(
        id=budget.id,
        scope=budget.scope,
        workspace_id=budget.workspace_id,
        key_hash=view.key_hash,
        name=budget.name,
        limit=nanos_to_usd(budget.limit_nanousd),
        reset=budget.reset,
        include_byok=budget.include_byok,
        spend=nanos_to_usd(view.spend_nanos),
        remaining=nanos_to_usd(max(0, budget.limit_nanousd - view.spend_nanos)),
        resets_at=iso(next_reset(budget.reset, now)),
        created_at=iso(budget.created_at),
    )


@router.get("", response_model=BudgetList)
async def list_budgets(
    session: Session, principal: OrgAdminPrincipal, scope: Literal["org", "workspace", "key"] | None = None
) -> BudgetList:
    found = await budgets.list_budgets(session=session, principal=principal, scope=scope)
    now = utcnow()
    return BudgetList(data=[budget_object(v, now) for v in found])


@router.post("", status_code=201, response_model=BudgetData, responses=NOT_FOUND)
async def create_budget(body: CreateBudgetBody, session: Session, principal: BillingWriteAdmin) -> BudgetData:
    view = await budgets.create_budget(
        session=session,
        principal=principal,
        scope=body.scope,
        limit_usd=body.limit,
        reset=body.reset,
        include_byok=body.include_byok,
        name=body.name,
        workspace_id=body.workspace_id,
        key_hash=body.key_hash,
    )
    return BudgetData(data=budget_object(view, utcnow()))


@router.get("/{budget_id}", response_model=BudgetData, responses=NOT_FOUND)
async def get_budget(budget_id: IdPath, session: Session, principal: OrgAdminPrincipal) -> BudgetData:
    view = await budgets.get_budget(session=session, principal=principal, budget_id=budget_id)
    return BudgetData(data=budget_object(view, utcnow()))


@router.patch("/{budget_id}", response_model=BudgetData, responses=NOT_FOUND)
async def update_budget(
    budget_id: IdPath, body: UpdateBudgetBody, session: Session, principal: BillingWriteAdmin
) -> BudgetData:
    view = await budgets.update_budget(
        session=session,
        principal=principal,
        budget_id=budget_id,
        changes=body.model_dump(include=body.model_fields_set),
    )
    return BudgetData(data=budget_object(view, utcnow()))


@router.delete("/{budget_id}", response_model=Deleted, responses=NOT_FOUND)
async def delete_budget(budget_id: IdPath, session: Session, principal: BillingWriteAdmin) -> Deleted:
    await budgets.delete_budget(session=session, principal=principal, budget_id=budget_id)
    return Deleted(deleted=True)
