"""Reading the audit trail: admins only (audit:read), one org at a time, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest
from keyplane.kernel.permissions import require_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.kernel.scopes import AUDIT_READ
from keyplane.models import AuditEvent

MAX_AUDIT_PAGE_SIZE = 500
MAX_AUDIT_OFFSET = 100_000


class AuditEventRepository(OrgRepository[AuditEvent]):
    """One org's events (platform-wide events, org_id NULL, are no tenant's)."""

    model = AuditEvent


@dataclass(slots=True)
class AuditFilter:
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def list_audit_events(
    *, session: AsyncSession, principal: Principal, filter: AuditFilter, page: int, page_size: int
) -> tuple[list[AuditEvent], bool]:
    """One page of the caller's org events and whether another page follows."""
    require_admin(principal, AUDIT_READ)
    if page < 1 or not 1 <= page_size <= MAX_AUDIT_PAGE_SIZE:
        raise BadRequest(f"page must be 1 or more and page_size between 1 and {MAX_AUDIT_PAGE_SIZE}")
    if (page - 1) * page_size > MAX_AUDIT_OFFSET:
        raise BadRequest(f"Pages beyond {MAX_AUDIT_OFFSET} events are not served: narrow since/until")
    since, until = _aware(filter.since), _aware(filter.until)
    if since is not None and until is not None and since >= until:
        raise BadRequest("since must be before until", code="invalid_time_range")
    events_of_org = AuditEventRepository.of(session, principal)
    query = events_of_org.select()
    if filter.action is not None:
        query = query.where(AuditEvent.action == filter.action)
    if filter.object_type is not None:
        query = query.where(AuditEvent.object_type == filter.object_type)
    if filter.object_id is not None:
        query = query.where(AuditEvent.object_id == filter.object_id)
    if filter.actor is not None:
        query = query.where(AuditEvent.actor_id == filter.actor)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    query = (
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    events = list(await events_of_org.list(query))
    return events[:page_size], len(events) > page_size
