"""the API's characters become character cameos; a cameo's owner may set a webhook

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:05:00

`/v1/videos/characters` now makes a character cameo of the key's user (only me), so the
OpenAI-compatible surface and the app share one set of consent rules. Each row of the
old `characters` table becomes such a cameo (same id, its upload as the cameo's source,
a handle made from its name), then the table goes. A cameo gains the address its owner
is told of every use at (`webhook_url`) and the secret the deliveries are signed with.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _handle(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:24] or "character"
    if len(base) < 3:
        base = f"{base}_char"
    handle, n = base, 1
    while handle in taken:
        n += 1
        handle = f"{base}_{n}"
    taken.add(handle)
    return handle


def upgrade() -> None:
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=80), nullable=True))

    bind = op.get_bind()
    taken = set(bind.execute(sa.text("SELECT handle FROM cameos")).scalars())
    rows = bind.execute(
        sa.text("SELECT id, user_id, name, video_key, created_at FROM characters")
    ).all()
    for row in rows:
        bind.execute(
            sa.text(
                "INSERT INTO cameos (id, owner_id, handle, kind, display_name, access, "
                "approve_before_posting, no_appearance_changes, no_embarrassing_or_romantic, "
                "no_political, preferences, take_key, verified_at, created_at) VALUES "
                "(:id, :owner, :handle, 'character', :name, 'only_me', false, false, false, "
                "false, '', :key, :at, :at)"
            ),
            {
                "id": row.id,
                "owner": row.user_id,
                "handle": _handle(row.name, taken),
                "name": row.name,
                "key": row.video_key,
                "at": row.created_at,
            },
        )
    op.drop_table("characters")


def downgrade() -> None:
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
    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.create_index("ix_characters_user_id", ["user_id"], unique=False)
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("webhook_url")
