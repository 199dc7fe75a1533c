"""keyplane.kernel.writes on both databases: what counts as a unique violation, upserts, one-winner
deletes, and the error layer's 409 for a unique violation no service named."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.context import AppContext
from keyplane.errors import Conflict
from keyplane.kernel.writes import delete_once, flush_or_conflict, is_unique_violation, upsert
from keyplane.models import ExchangeRate, User
from keyplane.models.base import utcnow
from tests.concurrency import count_rows
from tests.surfaces.shapes import assert_error_shape


def _user(email: str) -> User:
    return User(email=email, password_hash="x", name="")


async def test_a_duplicate_is_a_unique_violation_and_a_missing_value_is_not(context: AppContext) -> None:
    async with context.sessions() as session:
        session.add(_user("a@x.test"))
        await session.commit()
    async with context.sessions() as session:
        session.add(_user("a@x.test"))
        with pytest.raises(IntegrityError) as duplicate:
            await session.flush()
    async with context.sessions() as session:
        session.add(User(email="b@x.test", password_hash=None))
        with pytest.raises(IntegrityError) as missing:
            await session.flush()
    assert is_unique_violation(duplicate.value)
    assert not is_unique_violation(missing.value)


async def test_flush_or_conflict_names_the_conflict(session: AsyncSession) -> None:
    session.add(_user("a@x.test"))
    await session.commit()
    session.add(_user("a@x.test"))
    with pytest.raises(Conflict, match="taken"):
        await flush_or_conflict(session, "taken")


async def test_upsert_inserts_then_replaces_and_keep_is_written_once(
    session: AsyncSession, context: AppContext
) -> None:
    for rate in (1.5, 2.5):
        values = {"currency_code": "EUR", "units_per_base": rate, "updated_at": utcnow()}
        await upsert(session, ExchangeRate, values, key=["currency_code"])
    await session.commit()
    stored = await session.get(ExchangeRate, "EUR", populate_existing=True)
    assert stored is not None and stored.units_per_base == 2.5
    await upsert(session, ExchangeRate, {**values, "units_per_base": 9.0}, key=["currency_code"], keep=values)
    await session.commit()
    stored = await session.get(ExchangeRate, "EUR", populate_existing=True)
    assert stored is not None and stored.units_per_base == 2.5
    assert await count_rows(context, ExchangeRate) == 1


async def test_delete_once_is_true_for_one_caller_only(context: AppContext) -> None:
    async with context.sessions() as session:
        session.add(_user("gone@x.test"))
        await session.commit()
    async with context.sessions() as first, context.sessions() as second:
        row_a = await first.get(User, await _id_of(first, "gone@x.test"))
        row_b = await second.get(User, await _id_of(second, "gone@x.test"))
        assert await delete_once(first, row_a)
        await first.commit()
        assert not await delete_once(second, row_b)
    assert await count_rows(context, User, User.email == "gone@x.test") == 0


async def _id_of(session: AsyncSession, email: str) -> str:
    return str((await session.execute(select(User.id).where(User.email == email))).scalar_one())


async def test_an_unnamed_unique_violation_is_a_409_in_the_surfaces_shape(
    app: FastAPI, client: httpx.AsyncClient, context: AppContext
) -> None:
    """Any route whose service did not name the conflict still answers 409, never 500."""

    async def write_twice() -> None:
        async with context.sessions() as session:
            session.add_all([_user("twice@x.test"), _user("twice@x.test")])
            await session.flush()

    for path in ("/api/v1/test-unique", "/api/providers/test-unique", "/v1/manage/test-unique"):
        app.add_api_route(path, write_twice, methods=["POST"])
        assert_error_shape(await client.post(path), 409)
