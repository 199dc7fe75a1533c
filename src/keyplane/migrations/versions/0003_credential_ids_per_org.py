"""credential ids per org: a row uid as primary key, Bifrost ids unique per org (and per platform)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 10:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_ONLY = sa.text("org_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("provider_credentials") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
    credentials = sa.table("provider_credentials", sa.column("id", sa.String), sa.column("uid", sa.String))
    connection = op.get_bind()
    for (key_id,) in connection.execute(sa.select(credentials.c.id)).all():
        connection.execute(
            credentials.update().where(credentials.c.id == key_id).values(uid=str(uuid.uuid4()))
        )
    with op.batch_alter_table("provider_credentials") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint("pk_provider_credentials", type_="primary")
        batch.create_primary_key("pk_provider_credentials", ["uid"])
        batch.create_unique_constraint("uq_provider_credentials_org_id_id", ["org_id", "id"])
        batch.create_index(
            "uq_provider_credentials_platform_id",
            ["id"],
            unique=True,
            sqlite_where=PLATFORM_ONLY,
            postgresql_where=PLATFORM_ONLY,
        )


def downgrade() -> None:
    # Only possible while ids are still unique across orgs (a duplicate makes the primary key fail).
    with op.batch_alter_table("provider_credentials") as batch:
        batch.drop_index("uq_provider_credentials_platform_id")
        batch.drop_constraint("uq_provider_credentials_org_id_id", type_="unique")
        batch.drop_constraint("pk_provider_credentials", type_="primary")
        batch.create_primary_key("pk_provider_credentials", ["id"])
        batch.drop_column("uid")
