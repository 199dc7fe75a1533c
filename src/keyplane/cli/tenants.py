"""`keyplane orgs|members|invitations ...`: host tenant orgs and invite people over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from keyplane.cli.common import JsonOption, KeyOption, UrlOption, YesOption, api_client, confirm, deleted
from keyplane.cli.output import Column, console, print_json, print_record, print_table

orgs_app = typer.Typer(
    name="orgs",
    help="Create, list, suspend and resume tenant orgs (operator admin key).",
    no_args_is_help=True,
)
members_app = typer.Typer(
    name="members", help="List your org's members, invite people, change roles, remove.", no_args_is_help=True
)
invitations_app = typer.Typer(
    name="invitations", help="List, cancel and accept invitations.", no_args_is_help=True
)

ORG_COLUMNS = (
    Column("id", whole=True),
    Column("name", flex=True),
    Column("status"),
    Column("created_at", "created"),
    Column("default_workspace_id", "default workspace"),
)
INVITATION_COLUMNS = (
    Column("id", whole=True),
    Column("email"),
    Column("role"),
    Column("expires_at", "expires"),
)
MEMBER_COLUMNS = (
    Column("user_id", "user", whole=True),
    Column("email"),
    Column("role"),
    Column("name", flex=True),
    Column("created_at", "joined"),
)
UserIdArgument = Annotated[str, typer.Argument(help="The member's user id (see `keyplane members list`).")]
OrgIdArgument = Annotated[str, typer.Argument(help="The org's id.")]


class Role(StrEnum):
    member = "member"
    admin = "admin"
    owner = "owner"


def _show(value: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(value)
    else:
        print_record(value)


def _show_invitation(invitation: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(invitation)
        return
    print_record(invitation)
    console.print(
        "Hand the token to the invitee, once: "
        f"[bold]keyplane invitations accept {invitation['token']} --password ...[/bold]",
        soft_wrap=True,
    )


@orgs_app.command("create")
def create_org(
    name: Annotated[str, typer.Argument(help="The new org's name.")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="Who becomes its owner.")],
    owner_name: Annotated[str, typer.Option("--owner-name", help="The owner's display name.")] = "",
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant org and its owner invitation; the invitation token is printed only now."""
    with api_client(url, key) as client:
        body = {"name": name, "owner_email": owner_email, "owner_name": owner_name}
        answer = client.request("POST", "/api/v1/organizations", json=body)
    if as_json:
        print_json(answer)
        return
    print_record(answer["data"])
    _show_invitation(answer["invitation"], False)


@orgs_app.command("list")
def list_orgs(
    page: Annotated[int, typer.Option(help="Page number, from 1.")] = 1,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every org on the server (100 per page), the operator's first."""
    with api_client(url, key) as client:
        answer = client.request("GET", "/api/v1/organizations", params={"page": page})
    if as_json:
        print_json(answer["data"])
    else:
        print_table(answer["data"], ORG_COLUMNS, title=f"{len(answer['data'])} org(s), page {page}")


@orgs_app.command("get")
def get_org(
    org_id: OrgIdArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """One org."""
    with api_client(url, key) as client:
        _show(client.request("GET", f"/api/v1/organizations/{org_id}")["data"], as_json)


def _set_status(org_id: str, status: str, url: str | None, key: str | None, as_json: bool) -> None:
    with api_client(url, key) as client:
        data = client.request("PATCH", f"/api/v1/organizations/{org_id}", json={"status": status})["data"]
    _show(data, as_json)


@orgs_app.command("suspend")
def suspend(
    org_id: OrgIdArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Refuse every key and session of the org (within a second, on every instance); nothing is deleted."""
    _set_status(org_id, "suspended", url, key, as_json)


@orgs_app.command("resume")
def resume(
    org_id: OrgIdArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Serve a suspended org again."""
    _set_status(org_id, "active", url, key, as_json)


@members_app.command("list")
def list_members(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The org's members and their roles (admin key with orgs:read)."""
    with api_client(url, key) as client:
        found = client.list_members()
    if as_json:
        print_json(found)
    else:
        print_table(found, MEMBER_COLUMNS, title=f"{len(found)} member(s)")


@members_app.command("invite")
def invite(
    email: Annotated[str, typer.Argument(help="The invitee's email.")],
    role: Annotated[Role, typer.Option(help="Their role once they accept.")] = Role.member,
    name: Annotated[str, typer.Option(help="Their display name, if they have no account yet.")] = "",
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invite a person into the key's org (admin key with orgs:write); prints the token once."""
    with api_client(url, key) as client:
        invitation = client.invite_member(email, role=role.value, name=name)
    _show_invitation(invitation, as_json)


@members_app.command("set-role")
def set_role(
    user_id: UserIdArgument,
    role: Annotated[Role, typer.Argument(help="member, admin or owner.")],
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a member's role (admin key with orgs:write); the last owner cannot step down."""
    with api_client(url, key) as client:
        _show(client.set_member_role(user_id, role.value), as_json)


@members_app.command("remove")
def remove_member(
    user_id: UserIdArgument,
    yes: YesOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a member from the org (admin key with orgs:write)."""
    confirm(f"Remove member {user_id} from the org?", yes)
    with api_client(url, key) as client:
        client.remove_member(user_id)
    deleted(as_json, user_id=user_id)


@invitations_app.command("list")
def list_invitations(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The org's invitations not yet accepted."""
    with api_client(url, key) as client:
        data = client.list_invitations()
    if as_json:
        print_json(data)
    else:
        print_table(data, INVITATION_COLUMNS, title=f"{len(data)} open invitation(s)")


@invitations_app.command("cancel")
def cancel(
    invitation_id: Annotated[str, typer.Argument(help="The invitation's id (not its token).")],
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Cancel an open invitation: its token stops working."""
    with api_client(url, key) as client:
        client.cancel_invitation(invitation_id)
    console.print("cancelled")


@invitations_app.command("accept")
def accept(
    token: Annotated[str, typer.Argument(help="The kp_inv_... token you were given.")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, help="Your password (an existing account: its password)."),
    ],
    name: Annotated[str, typer.Option(help="Your display name (new accounts).")] = "",
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Join the org you were invited to; needs no key. Then sign in with POST /api/v1/auth/login."""
    with api_client(url, None, needs_key=False) as client:
        body = {"token": token, "password": password, "name": name}
        data = client.request("POST", "/api/v1/invitations/accept", json=body)["data"]
    _show(data, as_json)
