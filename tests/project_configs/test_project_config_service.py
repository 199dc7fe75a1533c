"""The project config service the gateway reads: defaults once per workspace, partial rows filled in."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.errors import BadRequest, Forbidden, NotFound
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.models import ProjectConfig
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.orgs.service import create_organization
from keyplane.project_configs.schemas import (
    DEFAULT_INFERENCE_CONFIG,
    InferenceConfigUpdate,
    ProjectConfigUpdate,
)
from keyplane.project_configs.service import get_project_config, inference_config_of, update_project_config

TIMES = {"created_at": "2025-09-25T08:29:50.735Z", "updated_at": "2025-09-25T08:29:50.735Z"}


def update(**fields: object) -> ProjectConfigUpdate:
    return ProjectConfigUpdate.model_validate({"inference_config": fields, **TIMES})


async def test_the_first_read_creates_the_defaults_once(context: AppContext, org: BootstrapResult) -> None:
    async def read() -> str:
        async with session_scope(context.sessions) as session:
            return (
                await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
            ).id

    ids = await asyncio.gather(read(), read(), read())
    assert len(set(ids)) == 1
    async with session_scope(context.sessions) as session:
        config = await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
        count = (await session.execute(select(func.count()).select_from(ProjectConfig))).scalar_one()
    assert count == 1
    assert inference_config_of(config) == DEFAULT_INFERENCE_CONFIG and config.allow_overwrite is False


async def test_an_unknown_workspace_is_not_found(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        with pytest.raises(NotFound):
            await get_project_config(session=session, org_id=org.org_id, workspace_id="no-such-workspace")


async def test_another_orgs_workspace_config_is_not_found(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        theirs, their_workspace = await create_organization(session=session, name="theirs")
        await get_project_config(session=session, org_id=theirs.id, workspace_id=their_workspace.id)
    async with session_scope(context.sessions) as session:
        with pytest.raises(NotFound):
            await get_project_config(session=session, org_id=org.org_id, workspace_id=their_workspace.id)


async def test_a_row_missing_newer_fields_reads_with_their_defaults(
    context: AppContext, org: BootstrapResult
) -> None:
    async with session_scope(context.sessions) as session:
        session.add(ProjectConfig(workspace_id=org.workspace_id, inference_config={"eu_native": True}))
    async with session_scope(context.sessions) as session:
        config = await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
    assert inference_config_of(config) == {**DEFAULT_INFERENCE_CONFIG, "eu_native": True}


async def test_the_system_principal_may_update_in_an_org(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        await update_project_config(
            session=session,
            principal=SYSTEM.acting_in(org.org_id),
            workspace_id=org.workspace_id,
            update=update(max_tokens=64),
        )
    async with session_scope(context.sessions) as session:
        config = await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
    assert inference_config_of(config)["max_tokens"] == 64


async def test_a_member_is_refused_and_nothing_changes(context: AppContext, org: BootstrapResult) -> None:
    member = Principal(kind="user", user_id=org.user_id, org_id=org.org_id, role="member")
    async with session_scope(context.sessions) as session:
        with pytest.raises(Forbidden):
            await update_project_config(
                session=session,
                principal=member,
                workspace_id=org.workspace_id,
                update=update(eu_native=True),
            )
    async with session_scope(context.sessions) as session:
        config = await get_project_config(session=session, org_id=org.org_id, workspace_id=org.workspace_id)
    assert inference_config_of(config)["eu_native"] is False


async def test_providers_are_checked_against_the_catalog(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        with pytest.raises(BadRequest, match="Unknown provider 'nope'"):
            await update_project_config(
                session=session,
                principal=SYSTEM.acting_in(org.org_id),
                workspace_id=org.workspace_id,
                update=update(allowed_providers=["openai", "nope"]),
            )


def test_only_preference_and_max_tokens_accept_null_in_the_schema_sense() -> None:
    parsed = InferenceConfigUpdate.model_validate({"preference": None, "max_tokens": None})
    assert parsed.sent_values() == {"preference": None, "max_tokens": None}
