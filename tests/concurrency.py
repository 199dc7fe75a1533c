"""Helpers for race tests: fire one request many times at once, then count what it left behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from keyplane.context import AppContext
from keyplane.models import AuditEvent


async def at_once(times: int, call: Callable[[int], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """`call(i)` for every i, all in flight together (each request has its own session)."""
    return list(await asyncio.gather(*(call(i) for i in range(times))))


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def count_rows(context: AppContext, model: Any, *conditions: Any) -> int:
    async with context.sessions() as session:
        query = select(func.count()).select_from(model).where(*conditions)
        return int((await session.execute(query)).scalar_one())


async def audit_events(context: AppContext, action: str) -> int:
    return await count_rows(context, AuditEvent, AuditEvent.action == action)
