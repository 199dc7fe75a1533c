"""usage records by org and model: a page of one model's usage reads only that model's rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_usage_records_org_id_model_created_at", "usage_records", ["org_id", "model", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_records_org_id_model_created_at", table_name="usage_records")
