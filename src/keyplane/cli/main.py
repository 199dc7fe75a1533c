"""Entry point of the `keyplane` command."""

from __future__ import annotations

import typer

from keyplane.cli import credits, keys, server, tenants
from keyplane.cli import secrets as secrets_cli

app = typer.Typer(
    name="keyplane",
    help="Self-hosted control plane and gateway for LLM API keys.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(server.init)
app.command()(server.migrate)
app.command()(server.serve)
app.add_typer(keys.app, name="keys")
app.add_typer(secrets_cli.app, name="secrets")
app.add_typer(credits.credits_app, name="credits")
app.add_typer(credits.rates_app, name="rates")
app.add_typer(tenants.orgs_app, name="orgs")
app.add_typer(tenants.members_app, name="members")
app.add_typer(tenants.invitations_app, name="invitations")


if __name__ == "__main__":
    app()
