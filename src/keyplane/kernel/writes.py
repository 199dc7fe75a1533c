"""Writes that stay right when requests race: uniqueness is the database's, so a unique violation
becomes a 409 (`flush_or_conflict`); an upsert is one INSERT ... ON CONFLICT (`upsert`); a delete
has exactly one winner (`delete_once`), decided by a conditional statement's rowcount."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import Conflict

UNIQUE_SQLSTATE = "23505"  # PostgreSQL unique_violation (a primary key too)


def is_unique_violation(exc: BaseException) -> bool:
    """A unique index or primary key refused the row, on PostgreSQL or SQLite."""
    if not isinstance(exc, IntegrityError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == UNIQUE_SQLSTATE)
    return "UNIQUE constraint failed" in str(exc.orig)  # SQLite names the columns after it


async def flush_or_conflict(session: AsyncSession, message: str, *, code: str = "conflict") -> None:
    """Flush; a unique violation (a concurrent request wrote the same name first) is Conflict(message).

    The transaction is then unusable, which is fine: the request fails and rolls back."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise Conflict(message, code=code) from None
        raise


async def upsert(
    session: AsyncSession,
    model: Any,
    values: Mapping[str, Any],
    *,
    key: Iterable[str],
    keep: Iterable[str] = (),
) -> None:
    """Insert `values`, or update the row whose `key` columns match, in one statement, so racing
    writers all succeed; columns in `keep` are written on insert only."""
    key_columns, kept = list(key), set(keep)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    changed = {name: value for name, value in values.items() if name not in key_columns and name not in kept}
    statement = module.insert(model).values(**values)
    if changed:
        statement = statement.on_conflict_do_update(index_elements=key_columns, set_=changed)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=key_columns)
    await session.execute(statement)


async def delete_once(session: AsyncSession, row: Any, *conditions: ColumnElement[bool]) -> bool:
    """Delete `row` (when `conditions` still hold); True only for the one caller who deleted it, so a
    concurrent delete answers 404 and writes no second audit event.

    A no-op UPDATE of the row decides: it locks the row (PostgreSQL) or the database (SQLite) and
    matches nothing once another delete committed. The delete itself stays an ORM delete, so flush
    hooks (the gateway's key-cache invalidation) still see it."""
    mapper = inspect(row).mapper
    key = zip(mapper.primary_key, mapper.primary_key_from_instance(row), strict=True)
    where = [column == value for column, value in key]
    first = mapper.primary_key[0]
    claimed = await session.execute(
        update(mapper.class_)
        .where(*where, *conditions)
        .values({first.key: first})
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        session.expunge(row)
        return False
    await session.delete(row)
    await session.flush()
    return True
