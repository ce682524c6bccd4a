"""content policy: users.figure_key, cameo_grants, rights_entries, rights_licences,
policy_audit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 13:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("figure_key", sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint("uq_users_figure_key", ["figure_key"])
    op.create_table(
        "cameo_grants",
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("grantee", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("owner_id", "grantee"),
    )
    op.create_table(
        "rights_entries",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("cased", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_rights_entries_holder", "rights_entries", ["holder"])
    op.create_table(
        "rights_licences",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("licensee", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["key"], ["rights_entries.key"]),
        sa.PrimaryKeyConstraint("key", "licensee"),
    )
    op.create_table(
        "policy_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("decided_at", sa.Float(), nullable=False),
        sa.Column("requester", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_audit_decided_at", "policy_audit", ["decided_at"])
    op.create_index("ix_policy_audit_requester", "policy_audit", ["requester"])
    op.create_index("ix_policy_audit_allowed", "policy_audit", ["allowed"])


def downgrade() -> None:
    for index in ("allowed", "requester", "decided_at"):
        op.drop_index(f"ix_policy_audit_{index}", table_name="policy_audit")
    op.drop_table("policy_audit")
    op.drop_table("rights_licences")
    op.drop_index("ix_rights_entries_holder", table_name="rights_entries")
    op.drop_table("rights_entries")
    op.drop_table("cameo_grants")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_figure_key", type_="unique")
        batch_op.drop_column("figure_key")
