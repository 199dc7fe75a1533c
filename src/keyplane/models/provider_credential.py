"""Upstream provider keys (Bifrost's key object); secrets inside are encrypted or env references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, JSONType, utcnow


class ProviderCredential(Base):
    __tablename__ = "provider_credentials"
    # Names are unique per owner; the service also keeps platform names (org_id NULL) unique.
    __table_args__ = (
        Index("ix_provider_credentials_provider_org_id", "provider", "org_id"),
        UniqueConstraint("org_id", "name"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    provider: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    # Stored secret: {"kind": "literal", "ciphertext": ...} or {"kind": "env", "env_var": ...}.
    value: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    models: Mapped[list[str]] = mapped_column(JSONType, default=list)
    blacklisted_models: Mapped[list[str]] = mapped_column(JSONType, default=list)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    aliases: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # The provider-specific block (azure_key_config, ...) with its secret fields stored like value.
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    use_for_batch_api: Mapped[bool] = mapped_column(Boolean, default=False)
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    discovered_models: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
