"""Who made each class, and whose each workspace is (the browser's person, an opaque id): one person may make only
so many classes an hour, and keep only so many bytes of saved work.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("classes")}
    if "made_by" not in columns:
        with op.batch_alter_table("classes") as t:
            t.add_column(sa.Column("made_by", sa.String(64), nullable=False, server_default=""))
            t.create_index("ix_classes_made_by", ["made_by"])
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("workspaces")}
    if "person" not in columns:
        with op.batch_alter_table("workspaces") as t:
            t.add_column(sa.Column("person", sa.String(64), nullable=False, server_default=""))
            t.create_index("ix_workspaces_person", ["person"])


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as t:
        t.drop_index("ix_workspaces_person")
        t.drop_column("person")
    with op.batch_alter_table("classes") as t:
        t.drop_index("ix_classes_made_by")
        t.drop_column("made_by")
