"""`keyplane secrets rotate`: move every provider secret to a new KEYPLANE_SECRET_KEY."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from keyplane.cli.output import console, fail, print_json, settings_or_fail
from keyplane.errors import KeyplaneError

app = typer.Typer(help="Provider secrets encrypted at rest.", no_args_is_help=True)


@app.command()
def rotate(
    new_secret_key: Annotated[
        str,
        typer.Option("--new-secret-key", help="The new KEYPLANE_SECRET_KEY.", prompt=True, hide_input=True),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")] = False,
) -> None:
    """Re-encrypt every provider and webhook secret under a new key, in one transaction (all or nothing)."""
    # Imported here: the other commands of the CLI start without the database and crypto modules.
    from keyplane.config import MIN_SECRET_KEY_BYTES, PRIVATE_FILE_MODE, SECRET_KEY_FILE
    from keyplane.db import create_engine, create_sessionmaker, session_scope
    from keyplane.providers.rotation import rotate_secrets
    from keyplane.providers.secrets import SecretBox, previous_secret_keys
    from keyplane.webhooks.rotation import rotate_webhook_secrets

    if len(new_secret_key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise fail(f"The new secret key must be at least {MIN_SECRET_KEY_BYTES} bytes long")
    settings = settings_or_fail()
    current = settings.resolved_secret_key
    # Old keys: the current one and any still listed as previous; the new key too, so a second
    # run (to catch writes made by instances still on the old key) is harmless.
    old = SecretBox(
        current, previous_keys=[*previous_secret_keys(settings.secret_key_previous), new_secret_key]
    )
    new = SecretBox(new_secret_key)

    async def run() -> int:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                moved = await rotate_secrets(session=session, old=old, new=new)
                return moved + await rotate_webhook_secrets(session=session, old=old, new=new)
        finally:
            await engine.dispose()

    try:
        moved = asyncio.run(run())
    except KeyplaneError as exc:
        raise fail(f"Nothing changed: {exc.message}") from exc
    key_file_updated = False
    if not settings.secret_key:
        # The key lives in the data directory (single-node default): switch it there too.
        path = settings.data_dir / SECRET_KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)  # owner-only before the new key is written
        with os.fdopen(fd, "w") as handle:
            handle.write(new_secret_key + "\n")
        key_file_updated = True
    if as_json:
        print_json({"secrets_reencrypted": moved, "key_file_updated": key_file_updated})
        return
    console.print(f"re-encrypted {moved} provider secrets under the new key")
    if key_file_updated:
        console.print(f"the new key was written to {settings.data_dir / SECRET_KEY_FILE}")
    else:
        console.print(
            "now set KEYPLANE_SECRET_KEY to the new key (and KEYPLANE_SECRET_KEY_PREVIOUS to the old one "
            "until every instance runs the new key); see docs/providers.md"
        )
