"""A class board's teacher key (a hash), and the digits a class draws together.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())  # a database made by a build between revisions
    if "board_keys" not in have:
        _board_keys()
    if "class_digits" not in have:
        _class_digits()


def _board_keys() -> None:
    op.create_table(
        "board_keys",
        sa.Column("class_code", sa.String(40), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


def _class_digits() -> None:
    op.create_table(
        "class_digits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_code", sa.String(40), nullable=False, index=True),
        sa.Column("label", sa.Integer, nullable=False),
        sa.Column("pixels", sa.LargeBinary, nullable=False),
        sa.Column("author", sa.String(60), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("class_digits")
    op.drop_table("board_keys")
