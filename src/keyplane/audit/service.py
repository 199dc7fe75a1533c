"""Record audit events inside the caller's transaction, so a change and its trail commit together.

One call per change: `await audit.record(session, principal, "key.created", key, name=key.name)`.
The target is a row (its kind, id and org are read off it) or an explicit `Target`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
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


class _Default(Enum):
    """`org_id` left out of `record`: the event belongs to the subject's own org."""

    SUBJECTS_ORG = "subject's org"


async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    subject: Audited,
    /,
    *,
    org_id: str | _Default | None = _Default.SUBJECTS_ORG,
    named_details: Mapping[str, Any] | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event about `subject` in its org, or in `org_id` when given (None: platform-wide).

    Details are keyword arguments and never secret; `named_details` holds those whose name a parameter
    takes (the tenant's `org_id` of an event kept in the operator's org) and comes first."""
    target = target_of(subject)
    event = AuditEvent(
        org_id=target.org_id if org_id is _Default.SUBJECTS_ORG else org_id,
        actor_type=principal.actor_type,
        actor_id=principal.actor_id,
        action=action,
        object_type=target.type,
        object_id=target.id,
        details={**(named_details or {}), **details},
        ip_address=valid_ip_text(principal.ip_address),  # never header text in the trail
    )
    session.add(event)
    await session.flush()
    return event
