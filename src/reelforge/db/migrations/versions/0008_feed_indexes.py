"""feed indexes: blocks by the blocked person, posts by creator and time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 04:00:00.000000

The For You ranker reads "who blocked me" on every page (blocks are keyed by the blocker),
and Following and the ranker's followed-creator candidates read each followed creator's
newest posts.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_blocked", ["blocked_id"], unique=False)
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_creator_time", ["user_id", "posted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_creator_time")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_blocked")
