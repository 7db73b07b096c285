"""The first schema: workspaces, their models, runs and uploads, and the class board.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False, index=True),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("current", sa.String(200)),
    )
    op.create_table(
        "models",
        sa.Column("ws", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("checkpoint", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("ws", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("params", sa.Integer, nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("ws", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "board",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_code", sa.String(40), nullable=False, index=True),
        sa.Column("ws", sa.String(64), nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("published", sa.Float, nullable=False),
        sa.Column("params", sa.Integer, nullable=False),
        sa.Column("accuracy", sa.Float, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("architecture", sa.Text, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.UniqueConstraint("class_code", "ws", "run"),
    )


def downgrade() -> None:
    for table in ("board", "uploads", "runs", "models", "workspaces"):
        op.drop_table(table)
