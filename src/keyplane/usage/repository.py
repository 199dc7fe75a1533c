"""Usage reads of one org: raw records and daily rollups, filtered by the org before anything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Select

from keyplane.kernel.repository import OrgRepository
from keyplane.models import UsageRecord, UsageRollup

if TYPE_CHECKING:
    from keyplane.usage.queries import UsageFilter

UsageT = TypeVar("UsageT", UsageRecord, UsageRollup)


class _UsageRepository(OrgRepository[UsageT]):
    """The org's usage rows of one table, narrowed by a UsageFilter's dimensions on request."""

    def matching(self, statement: Select[Any], f: UsageFilter) -> Select[Any]:
        """A statement from this repository narrowed to the filter's key/user/workspace/model."""
        table = self.model
        where: list[ColumnElement[bool]] = [
            column == value
            for column, value in (
                (table.key_id, f.key_id),
                (table.user_id, f.user_id),
                (table.workspace_id, f.workspace_id),
                (table.model, f.model),
            )
            if value is not None
        ]
        return statement.where(*where)


class UsageRecordRepository(_UsageRepository[UsageRecord]):
    """Raw usage records of the org (one per request)."""

    model = UsageRecord


class UsageRollupRepository(_UsageRepository[UsageRollup]):
    """Daily usage sums of the org per key, model, provider and workspace."""

    model = UsageRollup
