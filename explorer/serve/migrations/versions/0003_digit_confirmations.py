"""A class digit can be confirmed as legible by a classmate (for "stump the model").

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("class_digits")}
    if "confirmed_by" not in have:  # (a database whose upgrade was interrupted may have it already)
        op.add_column("class_digits", sa.Column("confirmed_by", sa.String(60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("class_digits") as batch:
        batch.drop_column("confirmed_by")
