"""Notifications: stored rows, delivered live after the transaction commits.

`notify` adds a row unless the recipient is the actor, has switched the type off, or has
blocked the actor; it notes the recipient in `db.info`. Whoever owns the session factory
(service/app.py) registers `after_commit` to wake the recipients' open pages (in-process,
or through Redis pub/sub when several server processes run), so nothing is announced that
a rollback later takes back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import Block, Notification, User

PENDING = "reelforge.notify"  # db.info key: the user ids to wake after commit


def notify(
    db: Session,
    *,
    to: str,
    type: str,
    actor: str | None,
    video_id: str | None = None,
    comment_id: str | None = None,
    report_id: str | None = None,
    text: str = "",
) -> Notification | None:
    if actor is not None and actor == to:
        return None
    user = db.get(User, to)
    # A cameo's owner hears of every use of it: "cameo" cannot be muted (docs/CAMEOS.md).
    muted = set(filter(None, user.muted_notifications.split(","))) if user else set()
    if user is None or (type != "cameo" and type in muted):
        return None
    if actor is not None and db.scalar(
        select(Block.user_id).where(Block.user_id == to, Block.blocked_id == actor)
    ):
        return None
    note = Notification(
        user_id=to,
        type=type,
        actor_id=actor,
        video_id=video_id,
        comment_id=comment_id,
        report_id=report_id,
        text=text,
    )
    db.add(note)
    db.info.setdefault(PENDING, set()).add(to)
    return note
