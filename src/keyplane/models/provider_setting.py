"""Operator overrides per provider (base URL, extra headers) on top of the built-in catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, JSONType, utcnow


class ProviderSetting(Base):
    __tablename__ = "provider_settings"

    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
