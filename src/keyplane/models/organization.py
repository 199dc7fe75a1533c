"""Organizations are tenants: nothing of one is visible to another."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, new_uuid, utcnow

ORG_STATUSES = ("active", "suspended")


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    # "active" or "suspended": a suspended org's keys and sessions are refused everywhere.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # Active API keys the org may hold at once; NULL means KEYPLANE_MAX_KEYS_PER_ORG.
    max_api_keys: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_suspended(self) -> bool:
        return self.status == "suspended"
