"""What the gateway needs per workspace (credentials, budgets, project config), cached with a short TTL.

A TTL of at most 0.5 s keeps every instance within one second of any change made elsewhere; a
reload is one short read every TTL per active workspace, never one per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.gateway.subjects import BudgetRule
from keyplane.models import Budget, ProjectConfig
from keyplane.providers.eligibility import RoutableCredential, load_routable_credentials
from keyplane.providers.policy import ProviderPolicy

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    credentials: tuple[RoutableCredential, ...]
    budgets: tuple[BudgetRule, ...]
    inference_config: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    allow_overwrite: bool = False


async def load_workspace_view(
    session: AsyncSession, *, org_id: str, workspace_id: str, secret_key: str, policy: ProviderPolicy
) -> WorkspaceView:
    credentials = await load_routable_credentials(
        session=session, org_id=org_id, secret_key=secret_key, policy=policy
    )
    rows = (
        (
            await session.execute(
                select(Budget).where(
                    Budget.org_id == org_id,
                    or_(
                        Budget.scope == "org",
                        Budget.scope == "key",
                        (Budget.scope == "workspace") & (Budget.workspace_id == workspace_id),
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    budgets = []
    for row in rows:
        scope_id = {"org": org_id, "workspace": row.workspace_id, "key": row.key_id}.get(row.scope)
        if scope_id is None:
            continue
        budgets.append(
            BudgetRule(
                id=row.id,
                scope=row.scope,
                scope_id=scope_id,
                name=row.name,
                limit_nanos=row.limit_nanousd,
                reset=row.reset,
                include_byok=row.include_byok,
            )
        )
    config = (
        await session.execute(select(ProjectConfig).where(ProjectConfig.workspace_id == workspace_id))
    ).scalar_one_or_none()
    return WorkspaceView(
        credentials=tuple(credentials),
        budgets=tuple(budgets),
        inference_config=MappingProxyType(dict(config.inference_config or {})) if config else EMPTY,
        allow_overwrite=bool(config.allow_overwrite) if config else False,
    )


class WorkspaceViews:
    """(org, workspace) -> WorkspaceView, reloaded when older than the TTL; one loader per workspace."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret_key: str,
        ttl_seconds: float,
        policy: ProviderPolicy,
    ) -> None:
        self._sessions = sessions
        self._secret_key = secret_key
        self._policy = policy
        self._ttl = ttl_seconds
        self._views: dict[tuple[str, str], tuple[WorkspaceView, float]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, org_id: str, workspace_id: str) -> WorkspaceView:
        key = (org_id, workspace_id)
        entry = self._views.get(key)
        if entry is not None and time.monotonic() - entry[1] < self._ttl:
            return entry[0]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._views.get(key)
            if entry is not None and time.monotonic() - entry[1] < self._ttl:
                return entry[0]
            async with self._sessions() as session:
                view = await load_workspace_view(
                    session,
                    org_id=org_id,
                    workspace_id=workspace_id,
                    secret_key=self._secret_key,
                    policy=self._policy,
                )
            if len(self._views) > 50_000:
                self._views.clear()
            self._views[key] = (view, time.monotonic())
            return view

    def invalidate(self) -> None:
        self._views.clear()
