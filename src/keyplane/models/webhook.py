"""Webhook endpoints an org subscribes, and the outbox of deliveries to them (state survives restarts)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, JSONType, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


def new_endpoint_id() -> str:
    return f"wh_{secrets.token_hex(12)}"


def new_message_id() -> str:
    """The delivery's `webhook-id`, the same on every retry (receivers deduplicate by it)."""
    return f"msg_{secrets.token_hex(12)}"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_endpoint_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(500))  # the whsec_ secret, encrypted (providers/secrets.py)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # A threshold event fires once per endpoint, subject, threshold and window, whichever
        # instance's flush saw it first: the others' inserts are ignored conflicts.
        UniqueConstraint(
            "endpoint_id",
            "subject_key",
            "threshold",
            "window_start",
            name="uq_webhook_deliveries_once_per_window",
        ),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_message_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The once-per-window key of a threshold event: "key:<id>", "budget:<id>" or "balance:<org>".
    subject_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
