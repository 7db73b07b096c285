"""A class made by its teacher: its code and key (a salted hash), its expiry and what the teacher steers (a page
to bring everyone to, a pause, a pushed lesson); the students who joined it, with what their apps report; and the
wrong keys tried against it (the rate limit lives here, so it holds across replicas). The first-come board keys
of revision 0002 go: a class code is now made by the server with its key.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())  # a database made by a build between revisions
    if "classes" not in have:
        op.create_table(
            "classes",
            sa.Column("code", sa.String(12), primary_key=True),
            sa.Column("key_hash", sa.String(200), nullable=False),
            sa.Column("dataset", sa.String(200), nullable=False),
            sa.Column("created", sa.Float, nullable=False),
            sa.Column("expires", sa.Float, nullable=False, index=True),
            sa.Column("paused", sa.Text, nullable=True),
            sa.Column("page", sa.String(40), nullable=True),
            sa.Column("page_seq", sa.Integer, nullable=False, server_default="0"),
            sa.Column("lesson", sa.Text, nullable=True),
            sa.Column("lesson_seq", sa.Integer, nullable=False, server_default="0"),
        )
    if "class_students" not in have:
        op.create_table(
            "class_students",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("class_code", sa.String(12), nullable=False, index=True),
            sa.Column("name", sa.String(60), nullable=False),
            sa.Column("name_key", sa.String(60), nullable=False),
            sa.Column("ws", sa.String(64), nullable=False),
            sa.Column("joined", sa.Float, nullable=False),
            sa.Column("seen", sa.Float, nullable=False),
            sa.Column("progress_at", sa.Float, nullable=False),
            sa.Column("report", sa.Text, nullable=False, server_default="{}"),
            sa.UniqueConstraint("class_code", "name_key", name="uq_class_student_name"),
        )
    if "class_guesses" not in have:
        op.create_table(
            "class_guesses",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("class_code", sa.String(12), nullable=False, index=True),
            sa.Column("who", sa.String(64), nullable=False),
            sa.Column("at", sa.Float, nullable=False),
        )
    if "board_keys" in have:
        op.drop_table("board_keys")


def downgrade() -> None:
    op.create_table(
        "board_keys",
        sa.Column("class_code", sa.String(40), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.drop_table("class_guesses")
    op.drop_table("class_students")
    op.drop_table("classes")
