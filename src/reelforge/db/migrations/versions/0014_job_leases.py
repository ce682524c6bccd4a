"""job leases: a claim's token and expiry, a retry's earliest start, the attempt's files

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("lease_token", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("not_before", sa.Float(), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("media_prefix", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("media_prefix")
        batch.drop_column("claimed_at")
        batch.drop_column("not_before")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_token")
