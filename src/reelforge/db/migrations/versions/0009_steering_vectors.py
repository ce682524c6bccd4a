"""steering vectors: the embeddings of a user's steering phrases, made when it is saved

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:00:00.000000

For You reads them with the viewer's other rows instead of running the sentence encoder
on the request path.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("steering_vectors", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("steering_vectors")
