"""Spending caps on an org, a workspace or a key; all that apply to a request must hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, new_uuid, utcnow

BUDGET_SCOPES = ("org", "workspace", "key")


class Budget(Base):
    __tablename__ = "budgets"
    __table_args__ = (Index("ix_budgets_org_id_scope", "org_id", "scope"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True, index=True
    )
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    limit_nanousd: Mapped[int] = mapped_column(BigInteger)
    reset: Mapped[str | None] = mapped_column(String(10), nullable=True)
    include_byok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
