"""Usage reads of one org: raw records and daily rollups, filtered by the org before anything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select

from keyplane.kernel.repository import OrgRepository
from keyplane.models import UsageRecord, UsageRollup

if TYPE_CHECKING:
    from keyplane.usage.queries import UsageFilter


def _dimensions(table: type[UsageRecord] | type[UsageRollup], f: UsageFilter) -> list[ColumnElement[bool]]:
    """The optional key/user/workspace/model matches, which raw rows and rollups share."""
    return [
        column == value
        for column, value in (
            (table.key_id, f.key_id),
            (table.user_id, f.user_id),
            (table.workspace_id, f.workspace_id),
            (table.model, f.model),
        )
        if value is not None
    ]


class UsageRecordRepository(OrgRepository[UsageRecord]):
    """Raw usage records of the org (one per request)."""

    model = UsageRecord

    @classmethod
    def of_filter(cls, session: Any, f: UsageFilter) -> UsageRecordRepository:
        return cls(session, f.org_id)

    def matching(self, statement: Select[Any], f: UsageFilter) -> Select[Any]:
        """A statement from this repository narrowed to the filter's key/user/workspace/model."""
        return statement.where(*_dimensions(UsageRecord, f))


class UsageRollupRepository(OrgRepository[UsageRollup]):
    """Daily usage sums of the org per key, model, provider and workspace."""

    model = UsageRollup

    @classmethod
    def of_filter(cls, session: Any, f: UsageFilter) -> UsageRollupRepository:
        return cls(session, f.org_id)

    def matching(self, statement: Select[Any], f: UsageFilter) -> Select[Any]:
        """A statement from this repository narrowed to the filter's key/user/workspace/model."""
        return statement.where(*_dimensions(UsageRollup, f))
