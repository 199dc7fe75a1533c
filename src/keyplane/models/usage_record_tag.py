"""One row per (usage record, tag): spend by tag is a join of these with their records.

Rollups carry no tags, so a tag filter or a tag grouping reads raw records through this table;
every other usage query keeps its rollup path. No foreign key, like usage_records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base
from keyplane.models.usage_record import BigIntId


class UsageRecordTag(Base):
    __tablename__ = "usage_record_tags"
    __table_args__ = (Index("ix_usage_record_tags_org_id_tag_created_at", "org_id", "tag", "created_at"),)

    record_id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column()
