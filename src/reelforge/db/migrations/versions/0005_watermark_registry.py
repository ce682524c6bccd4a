"""provenance registry: watermarks (payload → clip)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watermarks",
        sa.Column("payload", sa.String(length=16), nullable=False),
        sa.Column("video_id", sa.String(length=40), nullable=True),
        sa.Column("creator", sa.String(length=80), nullable=True),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("prompt_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_label", sa.String(length=120), nullable=True),
        sa.Column("parent_video_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("payload"),
    )
    op.create_index("ix_watermarks_video_id", "watermarks", ["video_id"])
    op.create_index("ix_watermarks_file_sha256", "watermarks", ["file_sha256"])
    op.create_index("ix_watermarks_created_at", "watermarks", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_watermarks_created_at", table_name="watermarks")
    op.drop_index("ix_watermarks_file_sha256", table_name="watermarks")
    op.drop_index("ix_watermarks_video_id", table_name="watermarks")
    op.drop_table("watermarks")
