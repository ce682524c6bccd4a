"""input references: videos.input_reference_key (image-to-video)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.add_column(sa.Column("input_reference_key", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.drop_column("input_reference_key")
