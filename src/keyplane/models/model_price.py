"""Operator-editable prices per model, in nano-USD per million tokens, for metering."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Base, utcnow


class ModelPrice(Base):
    __tablename__ = "model_prices"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    input_nanousd_per_mtok: Mapped[int] = mapped_column(BigInteger, default=0)
    output_nanousd_per_mtok: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_nanousd_per_mtok: Mapped[int] = mapped_column(BigInteger, default=0)
    # NULL: prompt tokens written to a cache cost the input price.
    cache_write_nanousd_per_mtok: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
