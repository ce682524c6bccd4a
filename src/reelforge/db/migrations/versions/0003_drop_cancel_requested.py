"""drop videos.cancel_requested: cancelling deletes the row, which the worker notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.drop_column("cancel_requested")


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch_op:
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
