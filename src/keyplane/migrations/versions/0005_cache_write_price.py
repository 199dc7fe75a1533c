"""cache writes: a price per model and a token count on usage records and rollups

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        batch.add_column(sa.Column("cache_write_nanousd_per_mtok", sa.BigInteger(), nullable=True))
    for table, kind in (("usage_records", sa.Integer()), ("usage_rollups", sa.BigInteger())):
        with op.batch_alter_table(table) as batch:
            # The server default keeps raw INSERTs that predate the column working (bench/usage_query.py).
            batch.add_column(sa.Column("cache_write_tokens", kind, nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("usage_rollups", "usage_records"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cache_write_tokens")
    with op.batch_alter_table("model_prices") as batch:
        batch.drop_column("cache_write_nanousd_per_mtok")
