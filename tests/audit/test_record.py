"""`audit.record`: one call stores who did what to which subject, in which org, with which details."""

from __future__ import annotations

from keyplane.audit import service as audit
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.models import AuditEvent, Workspace
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import make_org


def _owner(org: BootstrapResult) -> Principal:
    return Principal(
        kind="user", user_id=org.user_id, org_id=org.org_id, role="owner", ip_address="203.0.113.9"
    )


async def _stored(context: AppContext, event_id: int) -> AuditEvent:
    """The event as committed, read back in a fresh session."""
    async with session_scope(context.sessions) as session:
        event = await session.get(AuditEvent, event_id)
        assert event is not None
        return event


async def test_a_row_subject_names_its_kind_id_and_org(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        workspace = await session.get(Workspace, org.workspace_id)
        assert workspace is not None
        event = await audit.record(session, _owner(org), "workspace.updated", workspace, name="Team", n=2)
    stored = await _stored(context, event.id)
    assert (stored.object_type, stored.object_id, stored.org_id) == (
        "workspace",
        org.workspace_id,
        org.org_id,
    )
    assert (stored.actor_type, stored.actor_id, stored.action) == ("user", org.user_id, "workspace.updated")
    assert (stored.details, stored.ip_address) == ({"name": "Team", "n": 2}, "203.0.113.9")


async def test_a_target_subject_is_stored_as_given(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        member = audit.Target("member", "user-42", org.org_id)
        event = await audit.record(session, _owner(org), "member.removed", member)
        platform = await audit.record(session, SYSTEM, "provider_secrets.rotated", audit.Target("x", "*"))
    stored = await _stored(context, event.id)
    assert (stored.object_type, stored.object_id, stored.org_id, stored.details) == (
        "member",
        "user-42",
        org.org_id,
        {},
    )
    rotated = await _stored(context, platform.id)
    assert (rotated.org_id, rotated.actor_type, rotated.actor_id) == (None, "system", "cli")


async def test_org_id_keeps_the_event_out_of_the_subjects_org(
    context: AppContext, org: BootstrapResult
) -> None:
    """An operator's change to a tenant lands in the operator's trail, never in the tenant's."""
    tenant = await make_org(context, name="Globex", email="owner@globex.test")
    async with session_scope(context.sessions) as session:
        workspace = await session.get(Workspace, tenant.workspace_id)
        assert workspace is not None
        moved = await audit.record(session, _owner(org), "workspace.updated", workspace, org_id=org.org_id)
        platform = await audit.record(session, SYSTEM, "workspace.updated", workspace, org_id=None)
    assert (await _stored(context, moved.id)).org_id == org.org_id
    assert (await _stored(context, platform.id)).org_id is None


async def test_a_detail_named_like_a_parameter_goes_in_named_details(
    context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Globex", email="owner@globex.test")
    async with session_scope(context.sessions) as session:
        target = audit.Target("organization", tenant.org_id, tenant.org_id)
        event = await audit.record(
            session,
            _owner(org),
            "organization.suspended",
            target,
            org_id=org.org_id,
            named_details={"org_id": tenant.org_id},
            status="suspended",
        )
    stored = await _stored(context, event.id)
    assert (stored.org_id, stored.details) == (org.org_id, {"org_id": tenant.org_id, "status": "suspended"})


async def test_header_text_never_reaches_the_trail(context: AppContext, org: BootstrapResult) -> None:
    spoofed = Principal(
        kind="user", user_id=org.user_id, org_id=org.org_id, role="owner", ip_address="1.2.3.4, <x>"
    )
    async with session_scope(context.sessions) as session:
        event = await audit.record(
            session, spoofed, "member.removed", audit.Target("member", "u", org.org_id)
        )
    assert (await _stored(context, event.id)).ip_address is None
