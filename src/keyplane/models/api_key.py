"""API keys of both kinds; the sha256 hash of the plaintext is the public identifier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from keyplane.models.base import Base, JSONType, new_uuid, utcnow

KEY_KINDS = ("inference", "management")
LIMIT_RESETS = ("daily", "weekly", "monthly")


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_org_id_workspace_id_created_at", "org_id", "workspace_id", "created_at"),
        Index("ix_api_keys_creator_user_id_kind", "creator_user_id", "kind"),
        # The gateway looks a secret up here only when no key has it as its current hash.
        Index("ix_api_keys_previous_hash", "previous_hash", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(500), default="")
    label: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    creator_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    external_user: Mapped[str | None] = mapped_column(String(256), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when an owner/admin disabled the key: only an owner/admin may enable it again.
    disabled_by_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    limit_nanousd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    limit_reset: Mapped[str | None] = mapped_column(String(10), nullable=True)
    include_byok_in_limit: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reach: Mapped[str] = mapped_column(String(10), default="org")
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_limit_tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Rotation: the secret before the last rotation works until previous_key_expires_at.
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_key_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Client addresses the gateway serves (canonical CIDRs); NULL = any.
    allowed_ips: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    # Tags every request of the key carries, besides the request's own X-Keyplane-Tags.
    tags: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    max_concurrency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)

    @property
    def is_management(self) -> bool:
        return self.kind == "management"
