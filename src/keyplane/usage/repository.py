"""Usage reads of one org: raw records and daily rollups, filtered by the org before anything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Select

from keyplane.kernel.repository import OrgRepository
from keyplane.models import UsageRecord, UsageRecordTag, UsageRollup

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
    """Raw usage records of the org (one per request); only these can be narrowed by tag."""

    model = UsageRecord

    def matching(self, statement: Select[Any], f: UsageFilter) -> Select[Any]:
        statement = super().matching(statement, f)
        if f.tag is None:
            return statement
        return statement.where(UsageRecord.id.in_(self.tagged(f.tag, f)))

    def tagged(self, tag: str, f: UsageFilter) -> Select[Any]:
        return UsageRecordTagRepository(self.session, self.org_id).record_ids(tag, f)

    def by_tag(self, statement: Select[Any]) -> Select[Any]:
        """A statement over this org's records joined to their tags: one row per (record, tag)."""
        return statement.join_from(
            UsageRecord,
            UsageRecordTag,
            (UsageRecordTag.record_id == UsageRecord.id) & (UsageRecordTag.org_id == self.org_id),
        )


class UsageRecordTagRepository(OrgRepository[UsageRecordTag]):
    """The org's (record, tag) pairs: the index of spend by tag."""

    model = UsageRecordTag

    def record_ids(self, tag: str, f: UsageFilter) -> Select[Any]:
        """Ids of the org's records carrying `tag` in the filter's time range."""
        statement = self.select_columns(UsageRecordTag.record_id).where(UsageRecordTag.tag == tag)
        if f.start is not None:
            statement = statement.where(UsageRecordTag.created_at >= f.start)
        if f.end is not None:
            statement = statement.where(UsageRecordTag.created_at < f.end)
        return statement


class UsageRollupRepository(_UsageRepository[UsageRollup]):
    """Daily usage sums of the org per key, model, provider and workspace (no tags: see records)."""

    model = UsageRollup

    def matching(self, statement: Select[Any], f: UsageFilter) -> Select[Any]:
        assert f.tag is None, "rollups hold no tags: a tag filter reads raw records"
        return super().matching(statement, f)
