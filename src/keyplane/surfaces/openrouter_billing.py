"""OpenRouter's GET /credits and GET /activity, over the org ledger and the daily usage rollups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from keyplane.billing.ledger import total_credits_and_usage
from keyplane.deps import ManagementPrincipal, Session, require_management_key
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.scopes import BALANCE_READ, require_scope
from keyplane.models.base import utcnow
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdQuery, KeyHashQuery
from keyplane.usage.activity import activity_rows, parse_activity_date
from keyplane.usage.service import usage_filter_for

router = APIRouter(prefix="/api/v1", tags=["credits"], dependencies=[Depends(require_management_key)])


@router.get("/credits")
async def get_credits(session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    require_scope(principal, BALANCE_READ)
    credits, usage = await total_credits_and_usage(session=session, org_id=principal.require_org())
    return {"data": {"total_credits": nanos_to_usd(credits), "total_usage": nanos_to_usd(usage)}}


@router.get("/activity")
async def get_activity(
    session: Session,
    principal: ManagementPrincipal,
    date: Annotated[str | None, Query(max_length=32, pattern=NO_CONTROL_CHARACTERS)] = None,
    api_key_hash: KeyHashQuery = None,
    user_id: IdQuery = None,
    workspace_id: IdQuery = None,
    group_by: Literal["workspace"] | None = None,
) -> dict[str, Any]:
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
    return {"data": rows}
