"""The board's rows carry the handwriting accuracy as a column, so a board is read from light rows (name,
accuracy, parameters, time) without parsing any entry's history.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("board")}
    if "handwriting" not in have:  # (a database whose upgrade was interrupted may have it already)
        op.add_column("board", sa.Column("handwriting", sa.Float, nullable=True))
    board = sa.table("board", sa.column("id", sa.Integer), sa.column("history", sa.Text), sa.column("handwriting", sa.Float))
    for row in bind.execute(sa.select(board.c.id, board.c.history)).all():  # entries published before
        try:
            hand = json.loads(row.history).get("handwriting_accuracy")
        except (ValueError, AttributeError, RecursionError):
            continue
        if isinstance(hand, (int, float)) and not isinstance(hand, bool) and 0 <= hand <= 1:
            bind.execute(board.update().where(board.c.id == row.id).values(handwriting=float(hand)))


def downgrade() -> None:
    with op.batch_alter_table("board") as batch:
        batch.drop_column("handwriting")
