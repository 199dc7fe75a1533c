"""GET /api/v1/audit-events: the org's audit trail for admins with the audit:read scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from keyplane.audit.queries import MAX_AUDIT_PAGE_SIZE, AuditFilter, list_audit_events
from keyplane.deps import AuditReadAdmin, Session, require_management_key
from keyplane.models import AuditEvent
from keyplane.orgs.tenants import reading_as
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import OrgIdQuery, TextQuery
from keyplane.surfaces.openrouter_shapes import iso

router = APIRouter(
    prefix="/api/v1",
    tags=["audit"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)

Text = TextQuery


class AuditEventOut(BaseModel):
    """Who (actor) did what (action) to which object, when and from where; details never secret."""

    id: int
    created_at: str
    actor_type: str
    actor_id: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    ip_address: str | None


class AuditPagination(BaseModel):
    page: int
    page_size: int
    has_more: bool


class AuditPage(BaseModel):
    data: list[AuditEventOut]
    pagination: AuditPagination


def event_object(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        created_at=iso(event.created_at),
        actor_type=event.actor_type,
        actor_id=event.actor_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        ip_address=event.ip_address,
    )


@router.get("/audit-events", response_model=AuditPage, responses=error_responses("openrouter", 404))
async def audit_events(
    session: Session,
    principal: AuditReadAdmin,
    action: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    actor: Text = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE_SIZE)] = 100,
    org_id: OrgIdQuery = None,
) -> AuditPage:
    """Who did what to which object, when and from where; newest first (operator: any org's)."""
    events, has_more = await list_audit_events(
        session=session,
        principal=await reading_as(session=session, principal=principal, org_id=org_id),
        filter=AuditFilter(
            action=action, object_type=object_type, object_id=object_id, actor=actor, since=since, until=until
        ),
        page=page,
        page_size=page_size,
    )
    return AuditPage(
        data=[event_object(e) for e in events],
        pagination=AuditPagination(page=page, page_size=page_size, has_more=has_more),
    )
