"""An invitation to join an org: the token is shown once and stored only as its sha256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, new_uuid, utcnow

OPEN_ONLY = text("accepted_at IS NULL")


class Invitation(Base):
    """One open invitation per email and org (the database's rule); accepted ones stay as history."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_org_id_created_at", "org_id", "created_at"),
        Index(
            "uq_invitations_open_org_id_email",
            "org_id",
            "email",
            unique=True,
            sqlite_where=OPEN_ONLY,
            postgresql_where=OPEN_ONLY,
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20), default="member")
    # The invitee's display name, as the inviter gave it (a new account takes it unless they give one).
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    accepted_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    @property
    def is_open(self) -> bool:
        """Not yet accepted (a cancelled invitation is deleted)."""
        return self.accepted_at is None
