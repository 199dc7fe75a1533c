"""unique names in the database: workspace names per org (any case), platform credential names, one
open invitation per email and org; audit object ids as long as a model name

Rows that already break a new rule are kept apart rather than lost: a later duplicate workspace or
platform credential is renamed "<name> (2)", "(3)", ... (the oldest keeps its name, the default
workspace first); of several open invitations for one email the newest is kept (the older tokens
were superseded by it anyway).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_ONLY = sa.text("org_id IS NULL")
OPEN_ONLY = sa.text("accepted_at IS NULL")
MAX_NAME = 200

workspaces = sa.table(
    "workspaces",
    sa.column("id", sa.String),
    sa.column("org_id", sa.String),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("is_default", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)
credentials = sa.table(
    "provider_credentials",
    sa.column("uid", sa.String),
    sa.column("org_id", sa.String),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime),
)
invitations = sa.table(
    "invitations",
    sa.column("id", sa.String),
    sa.column("org_id", sa.String),
    sa.column("email", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("accepted_at", sa.DateTime),
)


def renamed(name: str) -> Iterator[str]:
    """'name (2)', 'name (3)', ... each at most MAX_NAME characters."""
    number = 2
    while True:
        suffix = f" ({number})"
        yield name[: MAX_NAME - len(suffix)] + suffix
        number += 1


def _dedupe_workspace_names(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(workspaces.c.id, workspaces.c.org_id, workspaces.c.name).order_by(
            workspaces.c.org_id,
            workspaces.c.is_default.desc(),
            workspaces.c.created_at,
            workspaces.c.id,
        )
    ).all()
    taken: set[tuple[str, str]] = set()
    for workspace_id, org_id, name in rows:
        new_name = name
        if (org_id, name.casefold()) in taken:
            new_name = next(n for n in renamed(name) if (org_id, n.casefold()) not in taken)
        taken.add((org_id, new_name.casefold()))
        connection.execute(
            workspaces.update()
            .where(workspaces.c.id == workspace_id)
            .values(name=new_name, name_key=new_name.casefold())
        )


def _dedupe_platform_credential_names(connection: sa.Connection) -> None:
    every_name = {name for (name,) in connection.execute(sa.select(credentials.c.name)).all()}
    rows = connection.execute(
        sa.select(credentials.c.uid, credentials.c.name)
        .where(credentials.c.org_id.is_(None))
        .order_by(credentials.c.created_at, credentials.c.uid)
    ).all()
    seen: set[str] = set()
    for uid, name in rows:
        if name in seen:
            # Free of every credential's name: tenants see platform names beside their own.
            new_name = next(n for n in renamed(name) if n not in every_name)
            every_name.add(new_name)
            connection.execute(credentials.update().where(credentials.c.uid == uid).values(name=new_name))
            name = new_name
        seen.add(name)


def _keep_newest_open_invitation(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(invitations.c.id, invitations.c.org_id, invitations.c.email)
        .where(invitations.c.accepted_at.is_(None))
        .order_by(invitations.c.created_at.desc(), invitations.c.id.desc())
    ).all()
    seen: set[tuple[str, str]] = set()
    for invitation_id, org_id, email in rows:
        if (org_id, email) in seen:
            connection.execute(invitations.delete().where(invitations.c.id == invitation_id))
        seen.add((org_id, email))


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
    _dedupe_workspace_names(connection)
    with op.batch_alter_table("workspaces") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=600), nullable=False)
        batch.create_unique_constraint("uq_workspaces_org_id_name_key", ["org_id", "name_key"])

    _dedupe_platform_credential_names(connection)
    op.create_index(
        "uq_provider_credentials_platform_name",
        "provider_credentials",
        ["name"],
        unique=True,
        sqlite_where=PLATFORM_ONLY,
        postgresql_where=PLATFORM_ONLY,
    )

    _keep_newest_open_invitation(connection)
    op.create_index(
        "uq_invitations_open_org_id_email",
        "invitations",
        ["org_id", "email"],
        unique=True,
        sqlite_where=OPEN_ONLY,
        postgresql_where=OPEN_ONLY,
    )

    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "object_id",
            existing_type=sa.String(length=100),
            type_=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade() -> None:
    audit = sa.table("audit_events", sa.column("object_id", sa.String))
    op.get_bind().execute(audit.update().values(object_id=sa.func.substr(audit.c.object_id, 1, 100)))
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "object_id",
            existing_type=sa.String(length=200),
            type_=sa.String(length=100),
            existing_nullable=False,
        )
    op.drop_index("uq_invitations_open_org_id_email", table_name="invitations")
    op.drop_index("uq_provider_credentials_platform_name", table_name="provider_credentials")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_constraint("uq_workspaces_org_id_name_key", type_="unique")
        batch.drop_column("name_key")
