"""OpenRouter's GET /credits and GET /activity, over the org ledger and the daily usage rollups."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from keyplane.billing.ledger import total_credits_and_usage
from keyplane.deps import ManagementPrincipal, Session, require_management_key
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.scopes import BALANCE_READ, require_scope
from keyplane.models.base import utcnow
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdQuery, KeyHashQuery
from keyplane.usage.activity import activity_rows, parse_activity_date
from keyplane.usage.service import usage_filter_for

router = APIRouter(
    prefix="/api/v1",
    tags=["credits"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)


class Credits(BaseModel):
    total_credits: float
    total_usage: float


class CreditsData(BaseModel):
    data: Credits


class ActivityItem(BaseModel):
    """OpenRouter's ActivityItem; `workspace_id` only when grouped by workspace."""

    date: str
    model: str
    model_permaslug: str
    endpoint_id: str
    provider_name: str
    usage: float
    byok_usage_inference: float
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    workspace_id: str | None = None


class ActivityList(BaseModel):
    data: list[ActivityItem]


@router.get("/credits", response_model=CreditsData)
async def get_credits(session: Session, principal: ManagementPrincipal) -> CreditsData:
    require_scope(principal, BALANCE_READ)
    credits, usage = await total_credits_and_usage(session=session, org_id=principal.require_org())
    return CreditsData(data=Credits(total_credits=nanos_to_usd(credits), total_usage=nanos_to_usd(usage)))


@router.get(
    "/activity",
    response_model=ActivityList,
    response_model_exclude_unset=True,  # workspace_id stays out unless grouped by workspace
    responses=error_responses("openrouter", 404),
)
async def get_activity(
    session: Session,
    principal: ManagementPrincipal,
    date: Annotated[str | None, Query(max_length=32, pattern=NO_CONTROL_CHARACTERS)] = None,
    api_key_hash: KeyHashQuery = None,
    user_id: IdQuery = None,
    workspace_id: IdQuery = None,
    group_by: Literal["workspace"] | None = None,
) -> ActivityList:
    now = utcnow()
    day = parse_activity_date(date, now.date()) if date is not None else None
    usage_filter = await usage_filter_for(
        session=session,
        principal=principal,
        key_hash=api_key_hash,
        user_id=user_id,
        workspace_id=workspace_id,
    )
    rows = await activity_rows(
        session=session, filter=usage_filter, now=now, day=day, by_workspace=group_by == "workspace"
    )
    return ActivityList(data=[ActivityItem.model_validate(row) for row in rows])
