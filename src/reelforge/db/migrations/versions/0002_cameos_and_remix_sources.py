"""cameos and remix sources: characters; videos.kind, source_video_id, base_plan_json

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:03:27.523236
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "characters",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("video_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_characters_user_id", "characters", ["user_id"])

    with op.batch_alter_table("videos") as batch_op:
        # Existing rows are plain creations; the server default fills them in (the model's
        # default is Python-side, so new rows never rely on it).
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="create")
        )
        batch_op.add_column(sa.Column("source_video_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("base_plan_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.drop_column("base_plan_json")
        batch_op.drop_column("source_video_id")
        batch_op.drop_column("kind")

    op.drop_index("ix_characters_user_id", table_name="characters")
    op.drop_table("characters")
