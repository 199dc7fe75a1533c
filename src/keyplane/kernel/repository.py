"""Tenant reads that cannot forget the org: every statement a repository builds starts filtered.

Modelled on Polar's RepositoryBase with a readable statement: `select()` is the only way in, and
it already carries `readable()` (the org filter). Subclasses name their model and may widen the
filter (platform rows every org sees) or route it through a parent table, never drop it.
tests/test_tenant_queries.py keeps tenant-table queries outside repositories on a reviewed list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import sqlalchemy
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from keyplane.errors import NotFound
from keyplane.kernel.principal import Principal
from keyplane.models.base import Base

ModelT = TypeVar("ModelT", bound=Base)


class OrgRepository(Generic[ModelT]):
    """Reads of one tenant table, always within `org_id` (a subclass sets `model` and `not_found`)."""

    model: ClassVar[type[Any]]
    not_found: ClassVar[str] = "Not found"

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    @classmethod
    def of(cls, session: AsyncSession, principal: Principal) -> Self:
        """The repository of the principal's org (a principal without one is refused there)."""
        return cls(session, principal.require_org())

    def readable(self) -> ColumnElement[bool]:
        """The filter every statement starts from: the row belongs to this org."""
        return self._column("org_id") == self.org_id

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        return cast(InstrumentedAttribute[Any], getattr(self.model, name))

    def select(self) -> Select[ModelT]:
        """`SELECT model WHERE <readable>`: add where/order_by/limit to it, the filter stays."""
        return sqlalchemy.select(self.model).where(self.readable())

    def select_with(self, *entities: Any) -> Select[Any]:
        """`SELECT model, *entities WHERE <readable>`: join the extra entities to the model."""
        return sqlalchemy.select(self.model, *entities).where(self.readable())

    def select_columns(self, *columns: Any) -> Select[Any]:
        """`SELECT columns WHERE <readable>`: sums, counts and projections of this org's rows."""
        return sqlalchemy.select(*columns).where(self.readable())

    async def scalar(self, statement: Select[Any]) -> Any:
        """The one value of a statement built from `select_columns()` (a sum, a count)."""
        return (await self.session.execute(statement)).scalar_one()

    async def get_or_none(self, id: str) -> ModelT | None:
        return await self.first(self.select().where(self._column("id") == id))

    async def get_by_id(self, id: str) -> ModelT:
        """The row of this org with `id`, or the same 404 whether it is missing or another org's."""
        row = await self.get_or_none(id)
        if row is None:
            raise NotFound(self.not_found)
        return row

    async def first(self, statement: Select[ModelT]) -> ModelT | None:
        """The first row of a statement built from `select()`."""
        return (await self.session.execute(statement.limit(1))).scalars().first()

    async def list(self, statement: Select[ModelT] | None = None) -> Sequence[ModelT]:
        """Every row of a statement built from `select()` (all of the org's rows by default)."""
        return (await self.session.execute(self.select() if statement is None else statement)).scalars().all()

    async def count(self, statement: Select[ModelT] | None = None) -> int:
        """How many rows a statement built from `select()` matches (all of the org's by default)."""
        inner = (self.select() if statement is None else statement).subquery()
        return int(
            (
                await self.session.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(inner))
            ).scalar_one()
        )
