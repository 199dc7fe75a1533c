"""Upstream provider keys (Bifrost's key object); secrets inside are encrypted or env references."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, JSONType, new_uuid, utcnow

PLATFORM_ONLY = text("org_id IS NULL")


class ProviderCredential(Base):
    """`id` is the Bifrost key id, chosen by its owner and unique per org, so two orgs may both
    name a key "main" and a duplicate says nothing about other orgs; `uid` identifies the row."""

    __tablename__ = "provider_credentials"
    # Names and ids are unique per owner; the service also keeps an org's names and ids apart from
    # the platform's (org_id NULL), which every org sees. Platform ids and names are unique among
    # themselves.
    __table_args__ = (
        Index("ix_provider_credentials_provider_org_id", "provider", "org_id"),
        UniqueConstraint("org_id", "name"),
        UniqueConstraint("org_id", "id"),
        Index(
            "uq_provider_credentials_platform_id",
            "id",
            unique=True,
            sqlite_where=PLATFORM_ONLY,
            postgresql_where=PLATFORM_ONLY,
        ),
        # NULLs are distinct in (org_id, name): platform names need an index of their own.
        Index(
            "uq_provider_credentials_platform_name",
            "name",
            unique=True,
            sqlite_where=PLATFORM_ONLY,
            postgresql_where=PLATFORM_ONLY,
        ),
    )

    uid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    id: Mapped[str] = mapped_column(String(100))
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
