"""Reading HTML form posts: every field as text, with typed parsers that raise the API's 400s."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime, time
from typing import TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, KeyplaneError

T = TypeVar("T")
MAX_FIELD_CHARS = 70_000  # a service-account JSON fits; the body cap bounds the whole form anyway


class Form(dict[str, str]):
    """A posted form: the last value of each field, stripped; lists through `many`."""

    def __init__(self, values: dict[str, str], lists: dict[str, list[str]]) -> None:
        super().__init__(values)
        self.lists = lists

    def text(self, name: str) -> str:
        return self.get(name, "").strip()

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def many(self, name: str) -> list[str]:
        return [value for value in self.lists.get(name, []) if value]

    def checked(self, name: str) -> bool:
        return name in self

    def usd(self, name: str, label: str) -> float | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise BadRequest(f"{label} must be a number") from None

    def integer(self, name: str, label: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"{label} must be a whole number") from None

    def day(self, name: str, label: str) -> date | None:
        return parse_day(self.text(name), label)

    def split(self, name: str) -> list[str] | None:
        """A comma- or newline-separated list; None when empty (no restriction)."""
        raw = self.text(name).replace("\n", ",")
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return items or None


def parse_day(raw: str, label: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{label} must be a date (YYYY-MM-DD)") from None


def midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


async def read_form(request: Request) -> Form:
    form = await request.form()
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise BadRequest("Files are not accepted here")
        if len(value) > MAX_FIELD_CHARS:
            raise BadRequest(f"{name} is too long")
        values[name] = value
        lists.setdefault(name, []).append(value)
    return Form(values, lists)


async def attempt(session: AsyncSession, call: Awaitable[T]) -> T | KeyplaneError:
    """Run a service call; on its refusal undo the transaction and hand the error to the page."""
    try:
        return await call
    except KeyplaneError as exc:
        await session.rollback()
        return exc
