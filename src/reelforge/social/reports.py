"""Reports and moderation: the rules, apart from HTTP.

A report names a post (its video id), a comment (its id), a profile (a handle) or a
video (its id: a cameo owner's report of a video that casts them, a draft of someone else
included), and a reason ("this is me", copyright, harmful, ...). Its life, in the order of
this module:

1. Filed (`file_report`) by someone who can see the target and does not own it; at most
   REPORTS_PER_HOUR per person, and one open report per reporter and target. A video
   report goes into the consent log of each of the reporter's cameos it casts.
2. Discussed (`add_message`): the reporter and the moderators write in its thread; a
   reporter's message tells the moderators on the thread (all of them while none has
   written), a moderator's tells the reporter.
3. Resolved by a moderator (`resolve`): upheld takes the target down everywhere (a post is
   removed; a comment is removed; a profile's owner is suspended and all their posts are
   removed; a video is deleted with its remixes, as its cameo's owner could have done);
   dismissed changes nothing. The reporter is told the outcome, the owner of what
   was taken down is told too, and the action is written to the audit (`audit_page`).

Who sees a report: its reporter and the moderators; to anyone else it is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from reelforge.cameos import consent_log
from reelforge.db.models import (
    Comment,
    ModerationAudit,
    Post,
    Report,
    ReportMessage,
    User,
    Video,
    now_s,
)
from reelforge.service.api.schemas import (
    AuditOut,
    Page,
    ReportIn,
    ReportMessageOut,
    ReportOut,
    ResolveIn,
)
from reelforge.service.errors import APIError
from reelforge.social import cameos as cameo_rules
from reelforge.social import posts
from reelforge.social.notify import notify
from reelforge.social.present import user_out

if TYPE_CHECKING:
    from reelforge.service.auth import Person
    from reelforge.service.deps import ServiceState

REPORTS_PER_HOUR = 10  # per person, counted over stored reports (every server process)
MODERATOR_ROLES = ("moderator", "admin")


# 1. Filing ---------------------------------------------------------------------------


def file_report(db: Session, reporter: Person, body: ReportIn) -> Report:
    owner = target_owner(db, reporter, body.target_type, body.target_id)
    if owner == reporter.id:
        raise APIError(
            400, "you cannot report your own content", param="target_id", code="own_content"
        )
    _check_report_rate(db, reporter.id)
    duplicate = db.scalar(
        select(Report.id).where(
            Report.reporter_id == reporter.id,
            Report.target_type == body.target_type,
            Report.target_id == body.target_id,
            Report.status == "open",
        )
    )
    if duplicate is not None:
        raise APIError(
            409,
            f"you already have an open report of this {body.target_type} ({duplicate})",
            param="target_id",
            code="duplicate_report",
        )
    report = Report(
        id=posts.ordered_id("report"),
        reporter_id=reporter.id,
        target_type=body.target_type,
        target_id=body.target_id,
        reason=body.reason,
        details=body.details,
    )
    db.add(report)
    db.flush()
    if body.target_type == "video":
        for cameo in cameo_rules.cameos_of_owner_in(db, body.target_id, reporter.id):
            consent_log.append(
                db,
                cameo.id,
                "report",
                actor_id=reporter.id,
                video_id=body.target_id,
                detail={"report_id": report.id, "reason": body.reason},
            )
    return report


def target_owner(db: Session, viewer: Person, target_type: str, target_id: str) -> str:
    """The id of the user who owns the target, if it exists and the viewer can see it
    (taken-down content cannot be reported again); else a 404 naming `target_id`."""
    gone = APIError(404, f"no {target_type} {target_id!r}", param="target_id", code="not_found")
    if target_type == "profile":
        user = db.scalar(select(User).where(User.name == target_id))
        if user is None or user.suspended or posts.blocked_between(db, viewer.id, user.id):
            raise gone
        return user.id
    if target_type == "video":
        video = db.get(Video, target_id)
        if video is None or not cameo_rules.cameos_of_owner_in(db, target_id, viewer.id):
            raise gone
        return video.user_id
    owner = None
    video_id = target_id
    if target_type == "comment":
        comment = db.get(Comment, target_id)
        if comment is None or comment.removed:
            raise gone
        owner, video_id = comment.user_id, comment.video_id
        if posts.blocked_between(db, viewer.id, owner):
            raise gone
    try:
        post = posts.visible_post(db, video_id, viewer)
    except APIError:
        raise gone from None
    if post.removed:
        raise gone
    return owner or post.user_id


def _check_report_rate(db: Session, reporter_id: str) -> None:
    recent = db.scalar(
        select(func.count())
        .select_from(Report)
        .where(Report.reporter_id == reporter_id, Report.created_at > now_s() - 3600)
    )
    if (recent or 0) >= REPORTS_PER_HOUR:
        raise APIError(
            429,
            f"at most {REPORTS_PER_HOUR} reports an hour; a moderator will look at the "
            "ones you sent",
            param="target_id",
            code="rate_limit_exceeded",
            headers={"retry-after": "3600"},
        )


# Reading -----------------------------------------------------------------------------


def visible_report(db: Session, report_id: str, person: Person) -> Report:
    report = db.get(Report, report_id)
    if report is None or (report.reporter_id != person.id and not person.is_moderator):
        raise APIError(404, f"no report {report_id!r}", param="report_id", code="not_found")
    return report


def report_outs(
    db: Session, reports: list[Report], *, with_messages: bool = False
) -> list[ReportOut]:
    """Reports with their reporters (and threads) from a fixed number of queries."""
    ids = [r.id for r in reports]
    messages: list[ReportMessage] = []
    if with_messages and ids:
        messages = list(
            db.scalars(
                select(ReportMessage)
                .where(ReportMessage.report_id.in_(ids))
                .order_by(ReportMessage.id)
            )
        )
    video_ids = {r.target_id for r in reports if r.target_type in ("post", "video")}
    videos = {v.id: v for v in db.scalars(select(Video).where(Video.id.in_(video_ids)))}
    user_ids = (
        {r.reporter_id for r in reports}
        | {m.author_id for m in messages}
        | {v.user_id for v in videos.values()}
    )
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(user_ids)))}
    outs = {
        r.id: ReportOut(
            id=r.id,
            reporter=user_out(users[r.reporter_id]),
            target_type=r.target_type,
            target_id=r.target_id,
            reason=r.reason,
            details=r.details,
            target_summary=_summary(r, videos, users),
            status=r.status,  # type: ignore[arg-type]
            created_at=r.created_at,
            resolved_at=r.resolved_at,
        )
        for r in reports
    }
    for message in messages:
        outs[message.report_id].messages.append(
            ReportMessageOut(
                author=user_out(users[message.author_id]),
                body=message.body,
                created_at=message.created_at,
            )
        )
    return list(outs.values())


def _summary(report: Report, videos: dict[str, Video], users: dict[str, User]) -> str | None:
    """What a moderator needs to judge a video without opening it: whose, and its prompt."""
    if report.target_type not in ("post", "video"):
        return None
    video = videos.get(report.target_id)
    if video is None:
        return "deleted"
    return f'by @{users[video.user_id].name}: "{video.prompt}"'


def reports_page(
    db: Session, person: Person, status: str | None, cursor: str | None, limit: int
) -> Page[ReportOut]:
    """A moderator's queue (everyone's reports) or a person's own reports: open ones
    first, newest first within each group."""
    closed = case((Report.status == "open", 0), else_=1)
    query: Select[Report] = select(Report)
    if not person.is_moderator:
        query = query.where(Report.reporter_id == person.id)
    if status is not None:
        query = query.where(Report.status == status)
    if cursor:
        after = db.get(Report, cursor)
        if after is None or (after.reporter_id != person.id and not person.is_moderator):
            raise APIError(400, f"cursor: unknown cursor {cursor!r}", param="cursor")
        rank = 0 if after.status == "open" else 1
        query = query.where(or_(closed > rank, (closed == rank) & (Report.id < after.id)))
    rows = list(db.scalars(query.order_by(closed, Report.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    more = len(rows) > limit
    return Page(data=report_outs(db, page), next_cursor=page[-1].id if more and page else None)


# 2. The thread -----------------------------------------------------------------------


def add_message(db: Session, report: Report, author: Person, body: str) -> None:
    db.add(ReportMessage(report_id=report.id, author_id=author.id, body=body))
    text = f"new message on your report of a {report.target_type}"
    if author.id == report.reporter_id:
        text = f"the reporter wrote on a report of a {report.target_type}"
    for user_id in _other_side(db, report, author):
        notify(db, to=user_id, type="report", actor=author.id, report_id=report.id, text=text)


def _other_side(db: Session, report: Report, author: Person) -> set[str]:
    if author.id != report.reporter_id:
        return {report.reporter_id}
    on_thread = set(
        db.scalars(
            select(ReportMessage.author_id).where(
                ReportMessage.report_id == report.id,
                ReportMessage.author_id != report.reporter_id,
            )
        )
    )
    if on_thread:
        return on_thread
    return set(db.scalars(select(User.id).where(User.role.in_(MODERATOR_ROLES))))


# 3. Resolving ------------------------------------------------------------------------


def resolve(
    db: Session, service: ServiceState, report: Report, moderator: Person, choice: ResolveIn
) -> None:
    """Uphold (take the target down) or dismiss; tell the people concerned; audit it.
    Upholding a video report deletes files too, and commits on the way."""
    if report.status != "open":
        raise APIError(
            409,
            f"report {report.id} is already {report.status}",
            param="report_id",
            code="already_resolved",
        )
    report.status = choice.outcome
    report.resolved_at, report.resolved_by = now_s(), moderator.id
    owner = _take_down(db, service, report) if choice.outcome == "upheld" else None
    db.add(
        ModerationAudit(
            moderator_id=moderator.id,
            action="uphold" if choice.outcome == "upheld" else "dismiss",
            target_type=report.target_type,
            target_id=report.target_id,
            report_id=report.id,
            note=choice.note,
        )
    )
    outcome = "upheld: it was taken down" if owner else "dismissed: nothing was changed"
    notify(
        db,
        to=report.reporter_id,
        type="report",
        actor=None,
        report_id=report.id,
        text=f"your report of a {report.target_type} was {outcome}",
    )
    if owner is not None:
        notify(
            db,
            to=owner,
            type="report",
            actor=None,
            report_id=report.id,
            text=f"your {report.target_type} was taken down after a report ({report.reason})",
        )


def _take_down(db: Session, service: ServiceState, report: Report) -> str | None:
    """Remove the report's target everywhere; the id of its owner (None if it is gone)."""
    if report.target_type == "video":
        video = db.get(Video, report.target_id)
        cameos = cameo_rules.cameos_of_owner_in(db, report.target_id, report.reporter_id)
        if video is None:
            return None
        creator = video.user_id
        if cameos:  # logged in the cameo's consent log, remixes included
            why = f"a moderator upheld your report of video {video.id}"
            cameo_rules.take_down(db, service, cameos[0], {video.id}, why)
        else:  # the reporter's cameo was deleted since: its take-down took the video
            from reelforge.service.videos import forget_video

            forget_video(db, service, video)
        return creator
    if report.target_type == "post":
        post = db.get(Post, report.target_id)
        if post is not None:
            posts.take_down(db, post)
        return post.user_id if post else None
    if report.target_type == "comment":
        comment = db.get(Comment, report.target_id)
        if comment is not None:
            posts.remove_comment(db, comment)
        return comment.user_id if comment else None
    user = db.scalar(select(User).where(User.name == report.target_id))
    if user is None:
        return None
    user.suspended = True
    for post in db.scalars(select(Post).where(Post.user_id == user.id, ~Post.removed)):
        posts.take_down(db, post)
    return user.id


def audit_page(db: Session, cursor: str | None, limit: int) -> Page[AuditOut]:
    """Every moderator action, newest first."""
    query = select(ModerationAudit)
    if cursor:
        if not cursor.isdigit():
            raise APIError(400, f"cursor: unknown cursor {cursor!r}", param="cursor")
        query = query.where(ModerationAudit.id < int(cursor))
    rows = list(db.scalars(query.order_by(ModerationAudit.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    ids = {a.moderator_id for a in page}
    names = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_(ids)))}
    data = [
        AuditOut(
            id=a.id,
            moderator=names[a.moderator_id],
            action=a.action,
            target_type=a.target_type,
            target_id=a.target_id,
            report_id=a.report_id,
            note=a.note,
            created_at=a.created_at,
        )
        for a in page
    ]
    more = len(rows) > limit
    return Page(data=data, next_cursor=str(page[-1].id) if more and page else None)
