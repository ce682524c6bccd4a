"""webhook outbox: an index on delivered_at, so pruning delivered events reads only the old
ones instead of the whole table

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_outbox_delivered_at", ["delivered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_outbox_delivered_at")
