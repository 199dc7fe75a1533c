"""Record audit events inside the caller's transaction, so a change and its trail commit together.

One call per change: `await audit.record(session, principal, "key.created", key, name=key.name)`.
The target is a row (its kind, id and org are read off it) or an explicit `Target`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.client_address import valid_ip_text
from keyplane.kernel.principal import Principal
from keyplane.models import (
    ApiKey,
    AuditEvent,
    Budget,
    Invitation,
    LedgerEntry,
    Organization,
    ProjectConfig,
    ProviderCredential,
    Workspace,
)


@dataclass(frozen=True, slots=True)
class Target:
    """What an event is about when it is not a row: a member (user id), a price (model), ..."""

    type: str
    id: str
    org_id: str | None = None


Audited = (
    Target
    | ApiKey
    | Budget
    | Invitation
    | LedgerEntry
    | Organization
    | ProjectConfig
    | ProviderCredential
    | Workspace
)


def target_of(subject: Audited) -> Target:
    """The kind, public id and org of a row, as the audit trail names them."""
    if isinstance(subject, Target):
        return subject
    if isinstance(subject, ApiKey):
        return Target("api_key", subject.hash, subject.org_id)
    if isinstance(subject, Organization):
        return Target("organization", subject.id, subject.id)
    if isinstance(subject, LedgerEntry):
        return Target("ledger_entry", str(subject.id), subject.org_id)
    if isinstance(subject, ProjectConfig):
        return Target("project_config", subject.id, None)
    kinds = {
        Budget: "budget",
        Invitation: "invitation",
        ProviderCredential: "provider_credential",
        Workspace: "workspace",
    }
    return Target(kinds[type(subject)], str(subject.id), subject.org_id)


async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    subject: Audited,
    /,
    *,
    org_id: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event about `subject` (in its org unless `org_id` says otherwise); details are
    keyword arguments and never secret."""
    target = target_of(subject)
    return await record_event(
        session=session,
        principal=principal,
        action=action,
        object_type=target.type,
        object_id=target.id,
        org_id=org_id if org_id is not None else target.org_id,
        details=details,
    )


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
    """The low-level append `record` builds on; callers pass only non-secret details."""
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
