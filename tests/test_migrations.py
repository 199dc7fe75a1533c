"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from keyplane.db import alembic_config
from keyplane.models import Base


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert differences == []


NOW = "'2026-01-01 00:00:00'"
CREDENTIAL_COLUMNS = (
    "id, org_id, provider, name, models, blacklisted_models, weight, aliases, config, enabled, "
    "use_for_batch_api, config_hash, status, description, discovered_models, created_at, updated_at"
)
CREDENTIAL_VALUES = (
    ":id, :org, 'openai', :id, '[]', '[]', 1.0, '{}', '{}', true, false, '', '', '', '[]', "
    + NOW
    + ", "
    + NOW
)
ORG_SQL = (
    "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (:id, :id, " + NOW + ", " + NOW + ")"
)


async def test_credential_ids_move_to_a_per_org_key_with_their_rows(database_url: str) -> None:
    """0003 gives every existing credential a row uid and keeps its id; afterwards ids repeat across orgs."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(ORG_SQL), {"id": "o1"})
            insert = f"INSERT INTO provider_credentials ({CREDENTIAL_COLUMNS}) VALUES ({CREDENTIAL_VALUES})"
            for key_id, org_id in (("main", "o1"), ("plat", None)):
                await connection.execute(text(insert), {"id": key_id, "org": org_id})
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            rows = (
                await connection.execute(text("SELECT id, uid FROM provider_credentials ORDER BY id"))
            ).all()
            assert [row[0] for row in rows] == ["main", "plat"]
            assert len({row[1] for row in rows}) == 2 and all(len(row[1]) == 36 for row in rows)
            await connection.execute(text(ORG_SQL), {"id": "o2"})
            columns, values = f"uid, {CREDENTIAL_COLUMNS}", f"'u-2', {CREDENTIAL_VALUES}"
            insert = f"INSERT INTO provider_credentials ({columns}) VALUES ({values})"
            await connection.execute(text(insert), {"id": "main", "org": "o2"})  # another org's "main"
    finally:
        await engine.dispose()


async def test_cache_write_columns_arrive_with_defaults_for_existing_rows(database_url: str) -> None:
    """0005 keeps existing prices (cache writes then follow the input price) and usage (0 writes)."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0003")
    engine = create_async_engine(database_url)
    price_sql = (
        "INSERT INTO model_prices (model, input_nanousd_per_mtok, output_nanousd_per_mtok, "
        "cached_nanousd_per_mtok, updated_at) VALUES ('m', 3, 15, 0, " + NOW + ")"
    )
    usage_sql = (
        "INSERT INTO usage_records (request_id, created_at, org_id, workspace_id, key_id, model, provider, "
        "is_byok, prompt_tokens, completion_tokens, cached_tokens, cost_nanousd, latency_ms, status_code, "
        "streamed) VALUES ('r', " + NOW + ", 'o', 'w', 'k', 'm', 'p', false, 10, 5, 2, 7, 1, 200, false)"
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(text(price_sql))
            await connection.execute(text(usage_sql))
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            price = (
                await connection.execute(text("SELECT cache_write_nanousd_per_mtok FROM model_prices"))
            ).one()
            usage = (await connection.execute(text("SELECT cache_write_tokens FROM usage_records"))).one()
    finally:
        await engine.dispose()
    assert (price[0], usage[0]) == (None, 0)
