"""The shared running-app harness every test may use (fixtures registered in tests/conftest.py):
a real fake upstream (`upstream`), keyplane served over real HTTP (`serve_app`, `served`), and
`gateway_setup`: an org with helpers to add credentials, keys, prices, budgets and credit through
the public APIs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from keyplane.app import create_app
from keyplane.billing.ledger import add_credit, balance_nanos
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.keys.schemas import KeyUpdate
from keyplane.keys.service import update_key
from keyplane.models import Budget, UsageRecord
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.project_configs.schemas import InferenceConfigUpdate, ProjectConfigUpdate
from keyplane.project_configs.service import update_project_config
from keyplane.surfaces.http_server import server_options
from tests.factories import bearer, make_org
from tests.fakes.upstream import RunningUpstream, free_port

FLUSH_WAIT_SECONDS = 20.0  # an upper bound for a hang, never a speed expectation


@pytest.fixture(scope="session")
def upstream() -> Iterator[RunningUpstream]:
    running = RunningUpstream().start()
    yield running
    running.stop()


class ServedApp:
    """create_app(settings) served by uvicorn in a thread: real sockets, its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = settings
        self.app: FastAPI | None = None
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            self.app = create_app(self.settings)
            config = uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_level="error",
                lifespan="on",
                loop="asyncio",
                access_log=False,
                **server_options(),  # as `keyplane serve` runs it
            )
            self.server = uvicorn.Server(config)
            self.server.run()
        except BaseException as exc:  # surfaced by start()/stop(), never lost in the thread
            self.error = exc

    def start(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 30
        while self.server is None or not self.server.started:
            if self.error is not None or not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"keyplane did not start: {self.error!r}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.error is not None:
            raise self.error


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"usage_flush_interval_seconds": 0.05, "upstream_timeout_seconds": 30.0}
    )


@pytest.fixture
def serve_app(gateway_settings: Settings) -> Iterator[Callable[..., ServedApp]]:
    """Start keyplane servers on the same database; keyword arguments override settings."""
    started: list[ServedApp] = []

    def start(**overrides: Any) -> ServedApp:
        served = ServedApp(gateway_settings.model_copy(update=overrides)).start()
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.stop()


@pytest.fixture
def served(serve_app: Callable[..., ServedApp]) -> ServedApp:
    return serve_app()


@dataclass
class GatewaySetup:
    """An org with an upstream credential, ready for inference keys."""

    org: BootstrapResult
    client: httpx.AsyncClient  # in-process management API on the same database
    context: AppContext
    upstream: RunningUpstream

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.org.management_key)

    async def add_credential(
        self,
        *,
        name: str = "fake",
        models: list[str] | None = None,
        platform: bool = True,
        weight: float = 1.0,
        url: str | None = None,
        aliases: dict[str, str] | None = None,
        provider: str = "vllm",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "value": "sk-upstream-secret",
            "models": models if models is not None else [],
            "weight": weight,
            "aliases": aliases or {},
            "platform": platform,
        }
        if provider == "vllm":
            body["vllm_key_config"] = {"url": url or f"http://127.0.0.1:{self.upstream.port}"}
        body.update(extra or {})
        response = await self.client.post(f"/api/providers/{provider}/keys", json=body, headers=self.admin)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def tenant(self, name: str = "Tenant") -> GatewaySetup:
        """A second org on the same database and upstream, whose own credentials are BYOK.

        Its credentials reach the loopback upstream only where the operator allows it: serve the
        gateway with `serve_app(allowed_upstream_hosts="127.0.0.1")`.
        """
        org = await make_org(self.context, name=name, email=f"owner@{name.lower()}.test")
        self.context.settings.allowed_upstream_hosts = "127.0.0.1"
        return GatewaySetup(org=org, client=self.client, context=self.context, upstream=self.upstream)

    async def make_key(self, **fields: Any) -> tuple[str, str]:
        """An inference key through the keys API; returns (plaintext, hash)."""
        response = await self.client.post(
            "/api/v1/keys", json={"name": "gateway test", **fields}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        return response.json()["key"], response.json()["data"]["hash"]

    async def update_key(self, key_hash: str, **fields: Any) -> None:
        """Change key fields the keys API does not expose, through the keys service."""
        principal = Principal(kind="user", user_id=self.org.user_id, org_id=self.org.org_id, role="owner")
        async with session_scope(self.context.sessions) as session:
            await update_key(
                session=session, principal=principal, key_hash=key_hash, params=KeyUpdate(**fields)
            )

    async def add_budget(self, *, scope: str, limit_usd: float, reset: str | None = None, **ids: str) -> None:
        async with session_scope(self.context.sessions) as session:
            session.add(
                Budget(
                    org_id=self.org.org_id,
                    scope=scope,
                    name=f"{scope} budget",
                    limit_nanousd=round(limit_usd * 1e9),
                    reset=reset,
                    **ids,
                )
            )

    async def set_project_config(self, *, allow_overwrite: bool | None = None, **inference: Any) -> None:
        """The workspace's project config through the settings service (as the Cortecs API does)."""
        stamp = utcnow().isoformat()
        async with session_scope(self.context.sessions) as session:
            await update_project_config(
                session=session,
                principal=SYSTEM.acting_in(self.org.org_id),
                workspace_id=self.org.workspace_id,
                update=ProjectConfigUpdate(
                    inference_config=InferenceConfigUpdate(**inference),
                    allow_overwrite=allow_overwrite,
                    created_at=stamp,
                    updated_at=stamp,
                ),
            )

    async def point_provider_at(self, provider: str, port: int) -> None:
        """The provider's base URL is a loopback fake on `port` (a provider setting, as an operator would)."""
        response = await self.client.put(
            f"/api/v1/providers/{provider}/settings",
            json={"base_url": f"http://127.0.0.1:{port}"},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text

    async def set_price(self, model: str, input_usd: float, output_usd: float) -> None:
        response = await self.client.put(
            f"/api/v1/model-prices/{model}",
            json={"input": input_usd, "output": output_usd},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text

    async def add_credit(self, usd: float) -> None:
        async with session_scope(self.context.sessions) as session:
            await add_credit(
                session=session, principal=SYSTEM, org_id=self.org.org_id, amount_nanos=round(usd * 1e9)
            )

    async def balance(self) -> int:
        async with self.context.sessions() as session:
            return await balance_nanos(session=session, org_id=self.org.org_id)

    async def usage_rows(self) -> list[UsageRecord]:
        async with self.context.sessions() as session:
            return list((await session.execute(select(UsageRecord).order_by(UsageRecord.id))).scalars())

    async def wait_for_usage(self, count: int) -> list[UsageRecord]:
        """Poll until the flusher has written `count` usage records (fails after a generous bound)."""
        deadline = time.monotonic() + FLUSH_WAIT_SECONDS
        while True:
            async with self.context.sessions() as session:
                found = (await session.execute(select(func.count()).select_from(UsageRecord))).scalar_one()
            if found >= count:
                return await self.usage_rows()
            if time.monotonic() > deadline:
                raise AssertionError(f"only {found} of {count} usage records were written")
            await asyncio.sleep(0.02)


@pytest.fixture
async def gateway_setup(
    org: BootstrapResult, client: httpx.AsyncClient, context: AppContext, upstream: RunningUpstream
) -> GatewaySetup:
    return GatewaySetup(org=org, client=client, context=context, upstream=upstream)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = FLUSH_WAIT_SECONDS) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
