"""Spent and reserved amounts per limit subject and window, updated atomically by the gateway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, utcnow


class SpendCounter(Base):
    __tablename__ = "spend_counters"

    # subject is e.g. "key:<id>", "workspace:<id>", "org:<id>", "budget:<id>", "balance:<org>".
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    spent_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
