"""Record audit events inside the caller's transaction, so a change and its trail commit together."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.client_address import valid_ip_text
from keyplane.kernel.principal import Principal
from keyplane.models import AuditEvent


async def record_event(
    *,
    session: AsyncSession,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    org_id: str | None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; callers pass only non-secret details."""
    event = AuditEvent(
        org_id=org_id,
        actor_type=principal.actor_type,
        actor_id=principal.actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
        ip_address=valid_ip_text(principal.ip_address),  # never header text in the trail
    )
    session.add(event)
    await session.flush()
    return event
