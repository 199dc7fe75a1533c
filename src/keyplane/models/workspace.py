"""Workspaces split an org's keys and settings (OpenRouter workspace = Cortecs project)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from keyplane.models.base import Base, new_uuid, utcnow


def workspace_name_key(name: str) -> str:
    """What makes two workspace names the same: their case-folded form."""
    return name.casefold()


class Workspace(Base):
    """Names are unique per org whatever their case: the database holds the rule (name_key)."""

    __tablename__ = "workspaces"
    __table_args__ = (
        Index("ix_workspaces_org_id_is_default", "org_id", "is_default"),
        UniqueConstraint("org_id", "name_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Set with the name (see _keep_name_key); case folding can lengthen a name up to three times.
    name_key: Mapped[str] = mapped_column(String(600))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("name")
    def _keep_name_key(self, _field: str, name: str) -> str:
        self.name_key = workspace_name_key(name)
        return name
