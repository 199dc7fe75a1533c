"""Audit log (admins): the org's events newest first, filtered by action, object, actor and dates."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from keyplane.audit.queries import AuditFilter, list_audit_events
from keyplane.deps import Session
from keyplane.surfaces.dashboard.common import next_day
from keyplane.surfaces.dashboard.forms import midnight, parse_day
from keyplane.surfaces.dashboard.render import render
from keyplane.surfaces.dashboard.session import PREFIX, SignedIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50
Text = Annotated[str, Query(max_length=200)]


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    session: Session,
    user: SignedIn,
    action: Text = "",
    object_type: Text = "",
    actor: Text = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    last = parse_day(date_to.strip(), "To")
    events, has_more = await list_audit_events(
        session=session,
        principal=user.principal,
        filter=AuditFilter(
            action=action.strip() or None,
            object_type=object_type.strip() or None,
            actor=actor.strip() or None,
            since=midnight(parse_day(date_from.strip(), "From")),
            until=midnight(next_day(last)) if last is not None else None,
        ),
        page=page,
        page_size=PAGE,
    )
    values = {"action": action, "object_type": object_type, "actor": actor, "from": date_from, "to": date_to}
    query = urlencode({k: v for k, v in values.items() if v})
    return render(
        request,
        "audit.html",
        user,
        title="Audit log",
        events=events,
        has_more=has_more,
        page=page,
        values=values,
        query=query,
    )
