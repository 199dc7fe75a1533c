"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.app import create_app
from keyplane.auth import passwords
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests import backends
from tests.browser import browser  # noqa: F401
from tests.factories import bootstrap_org
from tests.fakes.dns import fake_dns  # noqa: F401
from tests.fault_upstream import fault_upstream, fault_upstream_server  # noqa: F401
from tests.harness import (  # noqa: F401
    gateway_settings,
    gateway_setup,
    http,
    serve_app,
    served,
    upstream,
)
from tests.live_server import (  # noqa: F401
    live_server,
    live_server_env,
    live_server_factory,
    shared_live_server,
)

BACKEND_NAMES = ("sqlite", "postgresql")

# Argon2id at its cheapest parameters in the test process: hashing and verification stay real
# (argon2id, salted, checked), only their cost drops from ~0.1 s and 64 MiB per hash to microseconds.
# Servers in subprocesses keep the production parameters; tests/auth/test_password_cost.py checks them.
passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return backends.make_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    url = backends.create_postgres_database()
    yield url
    if url is not None:
        backends.drop_postgres_database(url)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if "postgres_only" in request.keywords and name != "postgresql":
        pytest.skip("PostgreSQL-only behaviour")
    return name


@pytest.fixture
async def database_url(
    backend: str, sqlite_template: Path, postgres_database: str | None, tmp_path: Path
) -> str:
    """A migrated, empty database of the requested backend."""
    if backend == "sqlite":
        return backends.sqlite_copy(sqlite_template, tmp_path)
    if postgres_database is None:
        backends.unavailable("PostgreSQL")
        raise AssertionError("unreachable")
    await backends.truncate_all(postgres_database)
    return postgres_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-for-keyplane-tests",
        redis_url=None,
        # No test reaches a real provider when it creates a credential, nor at a random moment:
        # the model discovery tests turn these on or run a pass themselves.
        model_discovery_on_write=False,
        model_discovery_interval_seconds=0,
        webhook_dispatch_interval_seconds=0,  # webhook tests run the dispatcher's passes themselves
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def context(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.keyplane
    return ctx


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as transport_client:
        yield transport_client


@pytest.fixture
async def session(context: AppContext) -> AsyncIterator[AsyncSession]:
    async with context.sessions() as db_session:
        yield db_session


@pytest.fixture
async def org(context: AppContext) -> BootstrapResult:
    """An initialized org with owner and management key, as `keyplane init` leaves it."""
    return await bootstrap_org(context)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("KEYPLANE_LOG_LEVEL", "warning")
