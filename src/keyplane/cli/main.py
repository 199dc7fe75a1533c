"""Entry point of the `keyplane` command."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane import __version__
from keyplane.cli import (
    audit,
    budgets,
    credits,
    keys,
    prices,
    providers,
    server,
    tenants,
    usage,
    webhooks,
    workspaces,
)
from keyplane.cli import secrets as secrets_cli
from keyplane.cli.output import print_message

app = typer.Typer(
    name="keyplane",
    help="Self-hosted control plane and gateway for LLM API keys. "
    "HTTP commands read KEYPLANE_URL and KEYPLANE_MANAGEMENT_KEY; every one takes --json.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print_message(f"keyplane {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Self-hosted control plane and gateway for LLM API keys."""


app.command()(server.init)
app.command()(server.migrate)
app.command()(server.serve)
app.add_typer(keys.app, name="keys")
app.add_typer(providers.app, name="providers")
app.command("usage")(usage.usage)
app.add_typer(budgets.app, name="budgets")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(credits.credits_app, name="credits")
app.add_typer(credits.rates_app, name="rates")
app.add_typer(prices.prices_app, name="prices")
app.add_typer(workspaces.workspaces_app, name="workspaces")
app.add_typer(workspaces.project_config_app, name="project-config")
app.add_typer(tenants.members_app, name="members")
app.add_typer(tenants.invitations_app, name="invitations")
app.add_typer(tenants.orgs_app, name="orgs")
app.command("audit")(audit.audit)
app.add_typer(secrets_cli.app, name="secrets")


if __name__ == "__main__":
    app()
