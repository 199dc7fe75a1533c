"""`keyplane secrets rotate`: afterwards the app with the new key decrypts everything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from keyplane.cli.main import app as cli
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.models import ProviderCredential
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.eligibility import load_routable_credentials
from keyplane.providers.secrets import SecretBox
from tests.factories import bearer
from tests.providers.conftest import SECRET, openai_key, provider_policy

NEW_KEY = "a-brand-new-secret-key-for-keyplane"


def _rotate(settings: Settings, new_key: str, *, env_key: bool = True) -> tuple[int, str]:
    env = {
        "KEYPLANE_DATABASE_URL": settings.resolved_database_url,
        "KEYPLANE_DATA_DIR": str(settings.data_dir),
        "KEYPLANE_SECRET_KEY": settings.secret_key if env_key else "",
        "KEYPLANE_SECRET_KEY_PREVIOUS": "",
    }
    result = CliRunner().invoke(cli, ["secrets", "rotate", "--new-secret-key", new_key, "--json"], env=env)
    return result.exit_code, result.output


async def _create_secrets(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)
    azure = openai_key(
        name="az",
        value=SECRET + "-az",
        azure_key_config={"endpoint": "https://x.openai.azure.com", "client_secret": SECRET + "-cs"},
    )
    assert (await client.post("/api/providers/azure/keys", json=azure, headers=headers)).status_code == 200


async def _plaintexts(context: AppContext, box: SecretBox) -> set[str]:
    async with context.sessions() as session:
        rows = (await session.execute(select(ProviderCredential))).scalars().all()
        found = {box.decrypt(row.value["ciphertext"]) for row in rows}
        for row in rows:
            block = row.config.get("azure_key_config")
            if block:
                found.add(box.decrypt(block["client_secret"]["ciphertext"]))
        return found


async def test_after_rotation_the_new_key_decrypts_everything(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, settings: Settings
) -> None:
    await _create_secrets(client, org)
    code, output = await asyncio.to_thread(_rotate, settings, NEW_KEY)
    assert code == 0, output
    assert json.loads(output) == {"secrets_reencrypted": 3, "key_file_updated": False}
    assert await _plaintexts(context, SecretBox(NEW_KEY)) == {SECRET, SECRET + "-az", SECRET + "-cs"}
    async with context.sessions() as session:
        routable = await load_routable_credentials(
            session=session,
            org_id=org.org_id,
            secret_key=NEW_KEY,
            policy=provider_policy(context),
            previous_keys=[],
        )
        old_only = await load_routable_credentials(
            session=session,
            org_id=org.org_id,
            secret_key=context.secret_key,
            policy=provider_policy(context),
            previous_keys=[],
        )
    assert sorted(c.api_key or "" for c in routable) == [SECRET, SECRET + "-az"]
    assert old_only == []  # the old key alone no longer opens anything


async def test_rotation_can_be_run_again(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, settings: Settings
) -> None:
    await _create_secrets(client, org)
    assert (await asyncio.to_thread(_rotate, settings, NEW_KEY))[0] == 0
    assert (await asyncio.to_thread(_rotate, settings, NEW_KEY))[0] == 0
    assert SECRET in await _plaintexts(context, SecretBox(NEW_KEY))


async def test_undecryptable_secret_aborts_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, settings: Settings
) -> None:
    await _create_secrets(client, org)
    async with context.sessions() as session:
        row = (
            await session.execute(select(ProviderCredential).where(ProviderCredential.name == "prod"))
        ).scalar_one()
        row.value = {**row.value, "ciphertext": SecretBox("some-unknown-key").encrypt("x")}
        await session.commit()
    code, output = await asyncio.to_thread(_rotate, settings, NEW_KEY)
    assert code != 0 and "Nothing changed" in output
    assert SECRET + "-az" in await _plaintexts_where(context, SecretBox(context.secret_key), "az")


async def _plaintexts_where(context: AppContext, box: SecretBox, name: str) -> set[str]:
    async with context.sessions() as session:
        row = (
            await session.execute(select(ProviderCredential).where(ProviderCredential.name == name))
        ).scalar_one()
        return {box.decrypt(row.value["ciphertext"])}


async def test_file_based_key_is_switched_in_the_data_dir(
    client: httpx.AsyncClient, org: BootstrapResult, settings: Settings, tmp_path: Path
) -> None:
    await _create_secrets(client, org)
    key_file = settings.data_dir / "secret_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(str(settings.secret_key) + "\n")
    code, output = await asyncio.to_thread(_rotate, settings, NEW_KEY, env_key=False)
    assert code == 0, output
    assert json.loads(output)["key_file_updated"] is True
    assert key_file.read_text().strip() == NEW_KEY


async def test_short_new_key_is_refused(settings: Settings) -> None:
    code, output = await asyncio.to_thread(_rotate, settings, "k" * 31)  # one byte short
    assert code != 0 and "at least 32 bytes" in output
