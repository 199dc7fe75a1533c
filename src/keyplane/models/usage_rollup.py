"""Daily per-key, per-model sums of usage, kept by the usage writer so reads never scan raw rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base


class UsageRollup(Base):
    __tablename__ = "usage_rollups"
    __table_args__ = (
        Index("ix_usage_rollups_org_id_day", "org_id", "day"),
        Index("ix_usage_rollups_workspace_id_day", "workspace_id", "day"),
        # Per-key reads (key usage on every keys listing, usage filtered by key) without a day bound.
        Index("ix_usage_rollups_key_id_day", "key_id", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    is_byok: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36))
    workspace_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
