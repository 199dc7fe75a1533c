"""`keyplane orgs|members|invitations ...`: host tenant orgs and invite people over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from keyplane.cli.keys import JsonOption, KeyOption, UrlOption, api_client
from keyplane.cli.output import console, print_json, print_record, print_table

orgs_app = typer.Typer(
    name="orgs",
    help="Create, list, suspend and resume tenant orgs (operator admin key).",
    no_args_is_help=True,
)
members_app = typer.Typer(name="members", help="Invite people into your org.", no_args_is_help=True)
invitations_app = typer.Typer(
    name="invitations", help="List, cancel and accept invitations.", no_args_is_help=True
)

ORG_COLUMNS = ("id", "name", "status", "created_at", "default_workspace_id")
INVITATION_COLUMNS = ("id", "email", "role", "expires_at")
OrgIdArgument = Annotated[str, typer.Argument(help="The org's id.")]


class Role(StrEnum):
    member = "member"
    admin = "admin"
    owner = "owner"


def _show(value: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(value)
    else:
        print_record(value)


def _show_invitation(invitation: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(invitation)
        return
    print_record(invitation)
    console.print(
        "Hand the token to the invitee, once: "
        f"[bold]keyplane invitations accept {invitation['token']} --password ...[/bold]"
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
        print_table(answer["data"], ORG_COLUMNS)


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


@members_app.command("invite")
def invite(
    email: Annotated[str, typer.Argument(help="The invitee's email.")],
    role: Annotated[Role, typer.Option(help="Their role once they accept.")] = Role.member,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invite a person into the key's org (admin key with orgs:write); prints the token once."""
    with api_client(url, key) as client:
        answer = client.request("POST", "/api/v1/members", json={"email": email, "role": role.value})
    _show_invitation(answer["invitation"], as_json)


@invitations_app.command("list")
def list_invitations(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The org's invitations not yet accepted."""
    with api_client(url, key) as client:
        data = client.request("GET", "/api/v1/invitations")["data"]
    if as_json:
        print_json(data)
    else:
        print_table(data, INVITATION_COLUMNS)


@invitations_app.command("cancel")
def cancel(
    invitation_id: Annotated[str, typer.Argument(help="The invitation's id (not its token).")],
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Cancel an open invitation: its token stops working."""
    with api_client(url, key) as client:
        client.request("DELETE", f"/api/v1/invitations/{invitation_id}")
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
