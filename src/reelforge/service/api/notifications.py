"""/api/ routes: notifications (docs/APP.md): the list, marking read, and the live stream.

The stream is Server-Sent Events. On connect it sends `event: unread` with the unread
count; then each new notification as `event: notification` (its JSON, `id:` its id),
followed by the new unread count. A reconnecting browser sends `Last-Event-ID` and gets
everything after it. Between events a comment line every HEARTBEAT_S keeps proxies from
closing the connection. The stream sleeps until service/live.py wakes it (a commit that
notified this person, in this process or, through Redis, in another) or POLL_S passes,
then reads the rows after the last id it sent: a missed wake-up only delays.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reelforge.db.models import Notification, User
from reelforge.service.api.schemas import NotificationOut, NotificationsPage, ReadIn
from reelforge.service.auth import PersonDep
from reelforge.service.deps import ServiceState, StateDep, run_db
from reelforge.service.errors import APIError
from reelforge.service.live import POLL_S, Live
from reelforge.social.present import user_out

router = APIRouter(prefix="/api", tags=["app: notifications"])

HEARTBEAT_S = 15.0
STREAM_MAX_S = 30 * 60  # then the browser reconnects, and its session is checked again
MAX_STREAMS_PER_PERSON = 8  # per server process
BATCH = 100  # rows a stream reads at a time
MAX_READ_IDS = 1000

# What happened, by type, when `notify` stored no text of its own; `{actor}` is "@handle".
SENTENCES = {
    "like": "{actor} liked your video",
    "comment": "{actor} commented on your video",
    "reply": "{actor} replied to your comment",
    "follow": "{actor} followed you",
    "remix": "{actor} remixed your video",
    "cameo": "{actor} used your cameo",
    "report": "there is news on a report",
}
# Types whose stored text is a whole sentence rather than what the actor did.
WHOLE_SENTENCE_TYPES = frozenset({"report"})


class ReadOut(BaseModel):
    unread: int


def sentence(kind: str, actor_handle: str | None, stored: str) -> str:
    """One readable sentence. What `notify(text=...)` stored is what the actor did
    ("liked your video": "@bob liked your video"), or for a report a whole sentence (a
    moderator's decision names no one); without it, the type's own sentence."""
    actor = f"@{actor_handle}" if actor_handle else "someone"
    if stored:
        if kind in WHOLE_SENTENCE_TYPES or actor_handle is None:
            return stored
        return f"{actor} {stored}"
    return SENTENCES.get(kind, "{actor}: " + kind).format(actor=actor)


def notification_outs(db: Session, rows: Sequence[Notification]) -> list[NotificationOut]:
    """Rows → the API's model, with every actor read in one query."""
    actor_ids = {row.actor_id for row in rows if row.actor_id}
    actors = (
        {u.id: u for u in db.scalars(select(User).where(User.id.in_(actor_ids)))}
        if actor_ids
        else {}
    )
    out = []
    for row in rows:
        actor = actors.get(row.actor_id) if row.actor_id else None
        out.append(
            NotificationOut(
                id=row.id,
                type=row.type,
                actor=user_out(actor) if actor else None,
                video_id=row.video_id,
                comment_id=row.comment_id,
                report_id=row.report_id,
                text=sentence(row.type, actor.name if actor else None, row.text),
                created_at=row.created_at,
                read=row.read,
            )
        )
    return out


def unread_count(db: Session, user_id: str) -> int:
    return (
        db.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read.is_(False)
            )
        )
        or 0
    )


def _id_param(text: str | None, param: str) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise APIError(
            400,
            f"{param} must be a notification id, got {text!r}",
            param=param,
            code="invalid_value",
        )
    return int(text)


@router.get("/notifications")
async def notifications(
    person: PersonDep,
    service: StateDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationsPage:
    """Newest first; `next_cursor` continues with older ones."""
    before = _id_param(cursor, "cursor")

    def work(db: Session) -> NotificationsPage:
        query = select(Notification).where(Notification.user_id == person.id)
        if before is not None:
            query = query.where(Notification.id < before)
        rows = list(db.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return NotificationsPage(
            data=notification_outs(db, rows),
            next_cursor=str(rows[-1].id) if more else None,
            unread=unread_count(db, person.id),
        )

    return await run_db(service, work)


@router.post("/notifications/read")
async def mark_read(body: ReadIn, person: PersonDep, service: StateDep) -> ReadOut:
    """Mark these notifications read (`ids`), or all of them (`ids` left out). Ids that
    are not the caller's are ignored."""
    if body.ids is not None and len(body.ids) > MAX_READ_IDS:
        raise APIError(
            400,
            f"ids: at most {MAX_READ_IDS} at a time, got {len(body.ids)}",
            param="ids",
            code="invalid_value",
        )

    def work(db: Session) -> ReadOut:
        statement = update(Notification).where(
            Notification.user_id == person.id, Notification.read.is_(False)
        )
        if body.ids is not None:
            statement = statement.where(Notification.id.in_(body.ids))
        db.execute(statement.values(read=True))
        db.commit()
        return ReadOut(unread=unread_count(db, person.id))

    return await run_db(service, work)


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request, person: PersonDep, service: StateDep) -> StreamingResponse:
    """Server-Sent Events: `unread`, then each new `notification` (see the module
    docstring). Send `Last-Event-ID` to resume after a notification id."""
    resume_after = _id_param(request.headers.get("last-event-id"), "Last-Event-ID")
    live: Live = request.app.state.live
    if live.hub.streams_of(person.id) >= MAX_STREAMS_PER_PERSON:
        raise APIError(
            429,
            f"at most {MAX_STREAMS_PER_PERSON} notification streams at once; close one",
            code="too_many_streams",
        )
    live.ensure_relay()
    return StreamingResponse(
        _events(live, service, person.id, resume_after),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _events(
    live: Live, service: ServiceState, user_id: str, resume_after: int | None
) -> AsyncIterator[str]:
    # Registered before the first read, so a commit after that read always wakes us.
    waiter = live.hub.open(user_id)
    try:
        last_id, unread = await run_db(service, lambda db: _start(db, user_id, resume_after))
        yield "retry: 2000\n\n"
        yield _sse("unread", ReadOut(unread=unread).model_dump_json())
        started = last_write = time.monotonic()
        read_now = resume_after is not None  # a reconnect: send what it missed at once
        while not live.hub.closing and time.monotonic() - started < STREAM_MAX_S:
            if not read_now:
                until_heartbeat = HEARTBEAT_S - (time.monotonic() - last_write)
                await waiter.wait(min(POLL_S, until_heartbeat))
            if live.hub.closing:
                break
            fresh, unread = await run_db(service, partial(_after, user_id=user_id, last_id=last_id))
            read_now = len(fresh) == BATCH  # a full batch: more are waiting
            for note in fresh:
                yield _sse("notification", note.model_dump_json(), note.id)
                last_id = note.id
            if fresh:
                yield _sse("unread", ReadOut(unread=unread).model_dump_json())
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= HEARTBEAT_S:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
    finally:
        live.hub.close(waiter)


def _start(db: Session, user_id: str, resume_after: int | None) -> tuple[int, int]:
    """Where the stream starts: after `resume_after`, else after the newest row now."""
    if resume_after is None:
        newest = db.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id))
        resume_after = newest or 0
    return resume_after, unread_count(db, user_id)


def _after(db: Session, *, user_id: str, last_id: int) -> tuple[list[NotificationOut], int]:
    rows = list(
        db.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.id > last_id)
            .order_by(Notification.id)
            .limit(BATCH)
        )
    )
    if not rows:
        return [], 0
    return notification_outs(db, rows), unread_count(db, user_id)


def _sse(name: str, data: str, event_id: int | None = None) -> str:
    """One event; `data` is JSON, which has no newlines, so one data line."""
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {data}\n\n"
