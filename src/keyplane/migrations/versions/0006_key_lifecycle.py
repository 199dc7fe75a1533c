"""key lifecycle: rotation with a grace period, IP allowlists, tags, a concurrency limit; usage by tag

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("previous_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("previous_key_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("allowed_ips", JSON, nullable=True))
        batch.add_column(sa.Column("tags", JSON, nullable=True))
        batch.add_column(sa.Column("max_concurrency", sa.Integer(), nullable=True))
        batch.create_index("ix_api_keys_previous_hash", ["previous_hash"], unique=True)
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("tags", JSON, nullable=True))
    op.create_table(
        "usage_record_tags",
        sa.Column("record_id", BIGINT_ID, primary_key=True, autoincrement=False),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_usage_record_tags_org_id_tag_created_at", "usage_record_tags", ["org_id", "tag", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_record_tags_org_id_tag_created_at", table_name="usage_record_tags")
    op.drop_table("usage_record_tags")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("tags")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_previous_hash")
        for column in ("max_concurrency", "tags", "allowed_ips", "previous_key_expires_at", "previous_hash"):
            batch.drop_column(column)
