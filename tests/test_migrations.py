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


async def _execute(database_url: str, statements: list[tuple[str, dict[str, Any]]]) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for sql, params in statements:
                await connection.execute(text(sql), params)
    finally:
        await engine.dispose()


async def _rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


WORKSPACE_SQL = (
    "INSERT INTO workspaces (id, org_id, name, is_default, created_at) "
    "VALUES (:id, :org, :name, :default, '2026-01-0{day} 00:00:00')"
)
INVITATION_SQL = (
    "INSERT INTO invitations (id, org_id, email, role, name, token_hash, created_at, expires_at,"
    " accepted_at) VALUES (:id, 'o1', :email, 'member', '', :id, '2026-01-0{day} 00:00:00',"
    " '2099-01-01 00:00:00', {accepted})"
)


async def test_0004_keeps_rows_that_break_the_new_unique_rules(database_url: str) -> None:
    """Duplicates written before 0004 are renamed (workspaces, platform credentials) or the older open
    invitations dropped; nothing that points at a workspace is lost on the way."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0003")
    credential = (
        f"INSERT INTO provider_credentials (uid, {CREDENTIAL_COLUMNS}) VALUES (:uid, {CREDENTIAL_VALUES})"
    )
    workspaces = [
        ("w1", "o1", "Team", False, 2),
        ("w0", "o1", "team", True, 3),  # the default keeps its name
        ("w2", "o1", "TEAM", False, 4),
        ("w3", "o1", "Team (2)", False, 5),
        ("w4", "o2", "Team", False, 1),  # another org's may repeat
    ]
    await _execute(
        database_url,
        [
            (ORG_SQL, {"id": "o1"}),
            (ORG_SQL, {"id": "o2"}),
            *(
                (WORKSPACE_SQL.format(day=day), {"id": i, "org": o, "name": n, "default": d})
                for i, o, n, d, day in workspaces
            ),
            (
                "INSERT INTO project_configs (id, workspace_id, inference_config, allow_overwrite,"
                " created_at, updated_at) VALUES ('pc', 'w2', '{}', false, " + NOW + ", " + NOW + ")",
                {},
            ),
            (credential, {"uid": "u1", "id": "plat", "org": None}),
            (credential, {"uid": "u2", "id": "plat-b", "org": None}),
            (credential, {"uid": "u3", "id": "main", "org": "o1"}),
            (INVITATION_SQL.format(day=1, accepted="NULL"), {"id": "i1", "email": "a@x.test"}),
            (INVITATION_SQL.format(day=2, accepted="NULL"), {"id": "i2", "email": "a@x.test"}),
            (INVITATION_SQL.format(day=3, accepted=NOW), {"id": "i3", "email": "a@x.test"}),
        ],
    )
    # Credential names repeat among platform credentials (and the next free name is taken by an org's).
    await _execute(
        database_url,
        [
            ("UPDATE provider_credentials SET name = 'shared' WHERE uid IN ('u1', 'u2')", {}),
            ("UPDATE provider_credentials SET name = 'shared (2)' WHERE uid = 'u3'", {}),
        ],
    )
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _rows(database_url, "SELECT id, name, name_key FROM workspaces ORDER BY id") == [
        ("w0", "team", "team"),
        ("w1", "Team (2)", "team (2)"),
        ("w2", "TEAM (3)", "team (3)"),
        ("w3", "Team (2) (2)", "team (2) (2)"),
        ("w4", "Team", "team"),
    ]
    assert await _rows(database_url, "SELECT workspace_id FROM project_configs") == [("w2",)]
    assert await _rows(database_url, "SELECT uid, name FROM provider_credentials ORDER BY uid") == [
        ("u1", "shared"),
        ("u2", "shared (3)"),
        ("u3", "shared (2)"),
    ]
    assert await _rows(database_url, "SELECT id FROM invitations ORDER BY id") == [("i2",), ("i3",)]
