"""Fixtures for provider tests: a loopback upstream and helpers to read raw rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.providers.policy import ProviderPolicy
from tests.providers.upstream import Upstream, running_upstream

SECRET = "sk-proj-SUPERSECRET-0123456789abcdefXYZ"
ALLOWED_ENV_REFS = "KP_TEST_*"  # the operator of the provider tests lets credentials read these


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with KP_TEST_* environment names allowed to operator-org credentials."""
    return settings.model_copy(update={"allowed_env_refs": ALLOWED_ENV_REFS})


def provider_policy(context: AppContext) -> ProviderPolicy:
    return ProviderPolicy.from_settings(context.settings)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


async def raw_rows(context: AppContext, table: str) -> list[dict[str, Any]]:
    """Every row of a table exactly as stored, read with plain SQL."""
    async with context.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


def openai_key(name: str = "prod", value: Any = SECRET, **extra: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "models": [], **extra}
