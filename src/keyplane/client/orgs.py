"""Org calls: the current org, its workspaces, members and invitations, tenant orgs, the
project config (Cortecs's, per workspace) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyplane.client.calls import Call, nothing, params, path, reader, whole
from keyplane.client.types import (
    AuditPage,
    Invitation,
    Member,
    Organization,
    ProjectConfig,
    Role,
    Workspace,
)


def current_org() -> Call[Organization]:
    """The key's org, its default workspace and the key creator's role."""
    return Call("GET", "/api/v1/organizations/current", reader(Organization))


def rename_org(name: str) -> Call[Organization]:
    return Call("PATCH", "/api/v1/organizations/current", reader(Organization), json={"name": name})


def list_workspaces() -> Call[list[Workspace]]:
    return Call("GET", "/api/v1/workspaces", reader(list[Workspace]))


def create_workspace(name: str) -> Call[Workspace]:
    """A new workspace in the key's org (admin, orgs:write)."""
    return Call("POST", "/api/v1/workspaces", reader(Workspace), json={"name": name})


def rename_workspace(workspace_id: str, name: str) -> Call[Workspace]:
    url = path("/api/v1/workspaces/{}", workspace_id)
    return Call("PATCH", url, reader(Workspace), json={"name": name})


def list_members() -> Call[list[Member]]:
    """The org's members and their roles (admins, orgs:read)."""
    return Call("GET", "/api/v1/members", reader(list[Member]))


def invite_member(email: str, *, role: Role = "member", name: str = "") -> Call[Invitation]:
    """Invite a person (admin, orgs:write); the answer holds the invitation token, only this once."""
    body = {"email": email, "role": role, "name": name}
    return Call("POST", "/api/v1/members", lambda answer: answer["invitation"], json=body)


def set_member_role(user_id: str, role: Role) -> Call[Member]:
    """Change a member's role (admin, orgs:write); the last owner cannot step down."""
    return Call("PATCH", path("/api/v1/members/{}", user_id), reader(Member), json={"role": role})


def remove_member(user_id: str) -> Call[None]:
    """Remove a member from the org; their keys stop working."""
    return Call("DELETE", path("/api/v1/members/{}", user_id), nothing)


def list_invitations() -> Call[list[Invitation]]:
    """The org's invitations not yet accepted."""
    return Call("GET", "/api/v1/invitations", reader(list[Invitation]))


def cancel_invitation(invitation_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/invitations/{}", invitation_id), nothing)


def get_project_config() -> Call[ProjectConfig]:
    """The inference config of the key's workspace (Cortecs's project config)."""
    return Call("GET", "/v1/manage/project-configs", whole(ProjectConfig))


def put_project_config(
    inference_config: dict[str, Any], *, allow_overwrite: bool | None = None
) -> Call[None]:
    """Apply the given inference-config fields over the current ones (admin, settings:write)."""
    now = datetime.now().astimezone().isoformat()  # required by Cortecs's contract, owned by the server
    body: dict[str, Any] = {"inference_config": inference_config, "created_at": now, "updated_at": now}
    if allow_overwrite is not None:
        body["allow_overwrite"] = allow_overwrite
    return Call("PUT", "/v1/manage/project-configs", nothing, json=body)


def list_audit_events(
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    page: int = 1,
    page_size: int = 100,
    org_id: str | None = None,
) -> Call[AuditPage]:
    """Who did what to which object, newest first (admins with audit:read; operator: any org's)."""
    query = params(
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        since=since,
        until=until,
        page=page,
        page_size=page_size,
        org_id=org_id,
    )
    return Call("GET", "/api/v1/audit-events", whole(AuditPage), params=query)
