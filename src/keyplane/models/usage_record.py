"""One row per gateway request; every usage figure is a view of these (or of their rollups)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, JSONType, utcnow

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_org_id_created_at", "org_id", "created_at"),
        Index("ix_usage_records_key_id_created_at", "key_id", "created_at"),
        Index("ix_usage_records_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_usage_records_user_id_created_at", "user_id", "created_at"),
        # A page of one model's records (the dashboard's Usage filter): no scan past other models.
        Index("ix_usage_records_org_id_model_created_at", "org_id", "model", "created_at"),
    )

    # No foreign keys: usage outlives deleted keys and inserts stay cheap at tens of millions of rows.
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    org_id: Mapped[str] = mapped_column(String(36))
    workspace_id: Mapped[str] = mapped_column(String(36))
    key_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(50), default="")
    credential_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    is_byok: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Prompt tokens read from and written to a provider's cache (both part of prompt_tokens).
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int] = mapped_column(Integer, default=200)
    streamed: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The key's default tags and the request's X-Keyplane-Tags (usage_record_tags indexes them).
    tags: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
