"""usage records by org and model: a page of one model's usage reads only that model's rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_usage_records_org_id_model_created_at", "usage_records", ["org_id", "model", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_records_org_id_model_created_at", table_name="usage_records")
