"""cameos: verified likenesses, challenges, grants, uses and the consent log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:13:31.128021

The cameo its owner controls (docs/CAMEOS.md). The operator flow's `characters` and
`cameo_grants` stay as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("cameo_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("video_id", sa.String(length=40), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.create_index("ix_consent_log_cameo_seq", ["cameo_id", "seq"], unique=True)

    op.create_table(
        "cameo_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("digits", sa.String(length=16), nullable=False),
        sa.Column("turns", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cameo_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameo_challenges_user_id"), ["user_id"], unique=False)

    op.create_table(
        "cameos",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("access", sa.String(length=16), nullable=False),
        sa.Column("approve_before_posting", sa.Boolean(), nullable=False),
        sa.Column("no_appearance_changes", sa.Boolean(), nullable=False),
        sa.Column("no_embarrassing_or_romantic", sa.Boolean(), nullable=False),
        sa.Column("no_political", sa.Boolean(), nullable=False),
        sa.Column("preferences", sa.Text(), nullable=False),
        sa.Column("likeness_json", sa.Text(), nullable=True),
        sa.Column("take_key", sa.String(length=200), nullable=True),
        sa.Column("verified_at", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handle"),
    )
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameos_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "cameo_access_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("cameo_id", sa.String(length=40), nullable=False),
        sa.Column("grantee_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=True),
        sa.Column("uses_left", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cameo_id"],
            ["cameos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grantee_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cameo_access_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cameo_access_grants_cameo_id"), ["cameo_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cameo_access_grants_grantee_id"), ["grantee_id"], unique=False
        )

    op.create_table(
        "cameo_uses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("video_id", sa.String(length=40), nullable=False),
        sa.Column("cameo_id", sa.String(length=40), nullable=False),
        sa.Column("caster_id", sa.String(length=40), nullable=False),
        sa.Column("grant_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cameo_id"],
            ["cameos.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cameo_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameo_uses_cameo_id"), ["cameo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameo_uses_video_id"), ["video_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cameo_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameo_uses_video_id"))
        batch_op.drop_index(batch_op.f("ix_cameo_uses_cameo_id"))

    op.drop_table("cameo_uses")
    with op.batch_alter_table("cameo_access_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameo_access_grants_grantee_id"))
        batch_op.drop_index(batch_op.f("ix_cameo_access_grants_cameo_id"))

    op.drop_table("cameo_access_grants")
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameos_owner_id"))

    op.drop_table("cameos")
    with op.batch_alter_table("cameo_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameo_challenges_user_id"))

    op.drop_table("cameo_challenges")
    with op.batch_alter_table("consent_log", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_log_cameo_seq")

    op.drop_table("consent_log")
