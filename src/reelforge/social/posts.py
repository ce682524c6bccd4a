"""Drafts and posts, reactions, comments and remix chains: the rules, apart from HTTP.

A video is a private draft of its creator until it is posted; posting adds (or turns
back on) its `posts` row, which carries the toggles, the remix chain and the counters.

Who sees a post (one rule, `visible_post`, used by every route that names a post):

1. the post exists, is posted and is not removed;
2. a moderator also sees a removed post (to judge reports about it);
3. the creator also sees their own unposted post's media (a draft plays for its owner);
4. nobody sees the post of someone who blocked them or whom they blocked.

Anything else is a 404 that names `video_id`, exactly like an id that never existed, so
ids do not leak. Counters on the row are changed by SQL arithmetic (`count + 1`), never
read-modify-write, so two likes at once both count.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelforge.db.models import (
    Block,
    Comment,
    Like,
    Post,
    Report,
    SeeLess,
    User,
    Video,
    View,
    now_s,
)
from reelforge.service.api.schemas import CommentOut, Page, PostIn, VideoOut
from reelforge.service.errors import APIError
from reelforge.social import cameos as cameo_rules
from reelforge.social.notify import notify
from reelforge.social.present import user_out

if TYPE_CHECKING:
    from reelforge.service.auth import Person

COMMENTS_PER_MINUTE = 20  # per person, counted over stored comments (every server process)
DAY_S = 86_400


def ordered_id(prefix: str) -> str:
    """A random id that sorts by creation time (16 hex digits of nanoseconds first), so a
    page can be ordered and continued by id alone."""
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(4)}"


def not_found(what: str, value: str, param: str) -> APIError:
    return APIError(404, f"no {what} {value!r}", param=param, code="not_found")


def blocked_between(db: Session, a: str, b: str) -> bool:
    """True when either of the two has blocked the other."""
    return (
        db.scalar(
            select(Block.user_id)
            .where(
                or_(
                    (Block.user_id == a) & (Block.blocked_id == b),
                    (Block.user_id == b) & (Block.blocked_id == a),
                )
            )
            .limit(1)
        )
        is not None
    )


def blocked_ids(db: Session, viewer_id: str) -> set[str]:
    """Everyone the viewer blocked or who blocked the viewer."""
    rows = db.execute(
        select(Block.user_id, Block.blocked_id).where(
            or_(Block.user_id == viewer_id, Block.blocked_id == viewer_id)
        )
    )
    return {other for a, b in rows for other in (a, b) if other != viewer_id}


# The daily quota -----------------------------------------------------------------------


def check_daily_quota(db: Session, user_id: str, quota: int) -> None:
    """429 `quota_exceeded` when the user already started `quota` videos this UTC day
    (0: no limit). Every video counts, however it was made (app, /v1, remix)."""
    if quota <= 0:
        return
    day_start = int(time.time()) // DAY_S * DAY_S
    made = db.scalar(
        select(func.count())
        .select_from(Video)
        .where(Video.user_id == user_id, Video.created_at >= day_start)
    )
    if (made or 0) >= quota:
        raise APIError(
            429,
            f"daily generation quota reached: {quota} videos per UTC day; it resets at 00:00 UTC",
            param="prompt",
            code="quota_exceeded",
            headers={"retry-after": str(day_start + DAY_S - int(time.time()))},
        )


# Drafts ------------------------------------------------------------------------------


def own_video(db: Session, video_id: str, user_id: str) -> Video:
    video = db.get(Video, video_id)
    if video is None or video.user_id != user_id:
        raise not_found("video with id", video_id, "video_id")
    return video


def is_live(post: Post | None) -> bool:
    return post is not None and post.posted and not post.removed


def video_outs(db: Session, videos: list[Video]) -> list[VideoOut]:
    """Videos as their creator sees them; `posted` from one query for the whole list."""
    ids = [v.id for v in videos]
    live = set(
        db.scalars(select(Post.video_id).where(Post.video_id.in_(ids), Post.posted, ~Post.removed))
    )
    out = []
    for video in videos:
        done = video.status == "completed"
        base = f"/api/posts/{video.id}"
        out.append(
            VideoOut(
                id=video.id,
                status=video.status,  # type: ignore[arg-type]
                progress=video.progress,
                prompt=video.prompt,
                seconds=video.seconds,
                size=video.size,
                model=video.model,
                created_at=video.created_at,
                error=video.error_message if video.status == "failed" else None,
                posted=video.id in live,
                remix_of=video.remixed_from_video_id,
                video_url=f"{base}/video" if done else None,
                thumbnail_url=f"{base}/thumbnail" if done else None,
            )
        )
    return out


def drafts_page(db: Session, user_id: str, cursor: str | None, limit: int) -> Page[VideoOut]:
    """The user's videos that are not posted (never, or unposted), newest first. A post a
    moderator took down is not a draft (posting it again is refused)."""
    query = (
        select(Video)
        .outerjoin(Post, Post.video_id == Video.id)
        .where(Video.user_id == user_id, or_(Post.video_id.is_(None), ~Post.posted))
    )
    if cursor:
        after = db.get(Video, cursor)
        if after is None or after.user_id != user_id:
            raise APIError(400, f"cursor: unknown cursor {cursor!r}", param="cursor")
        query = query.where(Video.sequence < after.sequence)
    rows = list(db.scalars(query.order_by(Video.sequence.desc()).limit(limit + 1)))
    page = rows[:limit]
    more = len(rows) > limit
    return Page(data=video_outs(db, page), next_cursor=page[-1].id if more and page else None)


# Seeing a post -----------------------------------------------------------------------


def visible_post(db: Session, video_id: str, viewer: Person | None, *, media: bool = False) -> Post:
    """The post, if this viewer may see it (the module docstring's rule); else 404.
    `media`: the creator may also play their unposted draft."""
    post = db.get(Post, video_id)
    if post is None:
        raise not_found("post", video_id, "video_id")
    owner = viewer is not None and viewer.id == post.user_id
    moderator = viewer is not None and viewer.is_moderator
    hidden = (
        (post.removed and not moderator)
        or (not post.posted and not (owner and media))  # a draft is nobody else's
        or (viewer is not None and not owner and blocked_between(db, viewer.id, post.user_id))
    )
    if hidden:
        raise not_found("post", video_id, "video_id")
    return post


def media_video(db: Session, video_id: str, viewer: Person | None) -> Video:
    """The video whose files this viewer may fetch: their own (draft or post, unless a
    moderator took it down), a post they may see, or one they review: a video that casts
    their cameo, or (a moderator) one reported as a video. 409 `not_ready` until its
    files exist."""
    video = db.get(Video, video_id)
    if video is None:
        raise not_found("post", video_id, "video_id")
    if viewer is None or video.user_id != viewer.id:
        if viewer is None or not _reviews(db, video_id, viewer):
            visible_post(db, video_id, viewer, media=True)
    elif (post := db.get(Post, video_id)) is not None and post.removed:
        visible_post(db, video_id, viewer, media=True)  # a moderator's own, or a 404
    if video.status != "completed":
        raise APIError(
            409,
            f"video {video_id} is not ready: its status is {video.status}",
            param="video_id",
            code="not_ready",
        )
    return video


def _reviews(db: Session, video_id: str, viewer: Person) -> bool:
    """Whether the viewer may watch this video, draft or not, to judge it: it casts one
    of their cameos, or they are a moderator and someone reported it as a video."""
    if cameo_rules.cameos_of_owner_in(db, video_id, viewer.id):
        return True
    reported = select(Report.id).where(Report.target_type == "video", Report.target_id == video_id)
    return viewer.is_moderator and db.scalar(reported.limit(1)) is not None


# Posting -----------------------------------------------------------------------------


def postable_video(db: Session, video_id: str, user_id: str) -> Video:
    """The caller's completed video that may be posted: 404 if not theirs, 409 `not_ready`
    until it is completed, 409 `removed` once a moderator took its post down."""
    video = own_video(db, video_id, user_id)
    if video.status != "completed":
        raise APIError(
            409,
            f"video {video_id} cannot be posted: its status is {video.status}",
            param="video_id",
            code="not_ready",
        )
    post = db.get(Post, video_id)
    if post is not None and post.removed:
        raise APIError(
            409,
            f"video {video_id} was taken down by a moderator and cannot be posted again",
            param="video_id",
            code="removed",
        )
    return video


def publish(db: Session, video: Video, choice: PostIn, embedding: bytes) -> Post:
    """Post `video` (from `postable_video`) or re-post it with new toggles. The first time
    a remix goes live its chain is set and its parent's creator is told."""
    post = db.get(Post, video.id)
    was_live = is_live(post)
    if post is None:
        post = Post(video_id=video.id, user_id=video.user_id, **_chain(db, video))
        db.add(post)
    post.caption = choice.caption
    post.allow_remix = choice.allow_remix
    post.allow_download = choice.allow_download
    post.comments_on = choice.comments_on
    post.embedding = embedding
    if not was_live:
        post.posted, post.posted_at = True, now_s()
        db.flush()
        _count_remix(db, post, +1)
    db.flush()
    return post


def _chain(db: Session, video: Video) -> dict[str, object]:
    """parent, root and depth of a remix's post; nothing for an original. A parent that
    was deleted still names itself as the parent and the root (shown as removed)."""
    parent_id = video.remixed_from_video_id
    if parent_id is None:
        return {}
    parent = db.get(Post, parent_id)
    if parent is None:
        return {"parent_video_id": parent_id, "root_video_id": parent_id, "depth": 1}
    return {
        "parent_video_id": parent_id,
        "root_video_id": parent.root_video_id or parent_id,
        "depth": parent.depth + 1,
    }


def _count_remix(db: Session, post: Post, step: int) -> None:
    """A remix going live (+1) or leaving (-1) changes its parent's remix count; going
    live also tells the parent's creator."""
    if post.parent_video_id is None:
        return
    db.execute(
        update(Post)
        .where(Post.video_id == post.parent_video_id, Post.remix_count + step >= 0)
        .values(remix_count=Post.remix_count + step)
    )
    parent = db.get(Post, post.parent_video_id)
    if step > 0 and parent is not None:
        notify(
            db,
            to=parent.user_id,
            type="remix",
            actor=post.user_id,
            video_id=post.video_id,
            text="remixed your video",
        )


def unpublish(db: Session, video_id: str, user_id: str) -> None:
    """Back to a draft: gone from feeds and profile, its reactions kept for a re-post."""
    post = db.get(Post, video_id)
    if post is None or post.user_id != user_id or not post.posted:
        raise not_found("post", video_id, "video_id")
    if not post.removed:
        _count_remix(db, post, -1)
    post.posted = False


def take_down(db: Session, post: Post) -> None:
    """A moderator's removal: gone from every feed and page for good (a remix of it shows
    its parent as removed; a removed remix leaves its parent's count)."""
    if post.removed:
        return
    if post.posted:
        _count_remix(db, post, -1)
    post.removed = True


def delete_post_rows(db: Session, video_id: str) -> None:
    """Remove a video's post and everything hanging on it (likes, comments, views,
    see-less marks); the caller then deletes the video. Remixes of it keep their chain,
    whose parent then shows as removed."""
    post = db.get(Post, video_id)
    if post is None:
        return
    if is_live(post):
        _count_remix(db, post, -1)
    for table in (Like, Comment, View, SeeLess):
        db.execute(delete(table).where(table.video_id == video_id))
    db.delete(post)
    db.flush()


# Reactions ---------------------------------------------------------------------------


def _bump(db: Session, video_id: str, **steps: int) -> None:
    db.execute(
        update(Post)
        .where(Post.video_id == video_id)
        .values({name: getattr(Post, name) + step for name, step in steps.items()})
    )


def like(db: Session, post: Post, user_id: str) -> bool:
    """Like once; liking again changes nothing. True if this call added the like."""
    if db.get(Like, (user_id, post.video_id)) is not None:
        return False
    try:
        with db.begin_nested():
            db.add(Like(user_id=user_id, video_id=post.video_id))
    except IntegrityError:  # the same like, made at the same moment by another request
        return False
    _bump(db, post.video_id, like_count=1)
    notify(
        db,
        to=post.user_id,
        type="like",
        actor=user_id,
        video_id=post.video_id,
        text="liked your video",
    )
    return True


def unlike(db: Session, post: Post, user_id: str) -> bool:
    """Undo a like; undoing one that is not there changes nothing."""
    existing = db.get(Like, (user_id, post.video_id))
    if existing is None:
        return False
    db.delete(existing)
    db.flush()
    _bump(db, post.video_id, like_count=-1)
    return True


def record_view(db: Session, post: Post, user_id: str, watched_ms: int, completed: bool) -> View:
    """Add to the viewer's watching of the post. The post counts distinct viewers and
    distinct viewers who watched to the end, each once."""
    view = db.get(View, (user_id, post.video_id))
    if view is None:
        view = View(user_id=user_id, video_id=post.video_id, watched_ms=0, completed=False)
        db.add(view)
        _bump(db, post.video_id, view_count=1)
    view.watched_ms = min(view.watched_ms + watched_ms, 2**31 - 1)
    view.updated_at = now_s()
    if completed and not view.completed:
        view.completed = True
        _bump(db, post.video_id, completed_count=1)
    db.flush()
    return view


def see_less(db: Session, post: Post, user_id: str) -> None:
    if db.get(SeeLess, (user_id, post.video_id)) is None:
        db.add(SeeLess(user_id=user_id, video_id=post.video_id))


# Comments ----------------------------------------------------------------------------


def comments_page(
    db: Session, post: Post, viewer_id: str | None, cursor: str | None, limit: int
) -> Page[CommentOut]:
    """Top-level comments oldest first, each with its replies (oldest first), leaving out
    removed ones and those of people blocked either way or suspended."""
    hidden = blocked_ids(db, viewer_id) if viewer_id else set()
    suspended = select(User.id).where(User.suspended).scalar_subquery()
    shown = (
        (Comment.video_id == post.video_id)
        & ~Comment.removed
        & Comment.user_id.not_in(hidden)
        & Comment.user_id.not_in(suspended)
    )
    query = select(Comment).where(shown, Comment.parent_id.is_(None))
    if cursor:
        query = query.where(Comment.id > cursor)
    rows = list(db.scalars(query.order_by(Comment.id).limit(limit + 1)))
    top = rows[:limit]
    replies = list(
        db.scalars(
            select(Comment)
            .where(shown, Comment.parent_id.in_([c.id for c in top]))
            .order_by(Comment.id)
        )
    )
    authors = {c.user_id for c in top} | {r.user_id for r in replies}
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(authors)))}
    outs = {c.id: _comment_out(c, users[c.user_id]) for c in top}
    for reply in replies:
        outs[reply.parent_id or ""].replies.append(_comment_out(reply, users[reply.user_id]))
    more = len(rows) > limit
    return Page(data=list(outs.values()), next_cursor=top[-1].id if more and top else None)


def _comment_out(comment: Comment, author: User) -> CommentOut:
    return CommentOut(
        id=comment.id,
        author=user_out(author),
        body=comment.body,
        created_at=comment.created_at,
        parent_id=comment.parent_id,
    )


def add_comment(
    db: Session, post: Post, author_id: str, body: str, parent_id: str | None
) -> CommentOut:
    """A comment, or a reply to a top-level comment of the same post. The post's creator
    is told of a comment, the parent's author of a reply."""
    if not post.comments_on:
        raise APIError(
            403,
            "the creator turned comments off for this post",
            param="video_id",
            code="comments_off",
        )
    _check_comment_rate(db, author_id)
    parent = _reply_parent(db, post, author_id, parent_id)
    comment = Comment(
        id=ordered_id("comment"),
        video_id=post.video_id,
        user_id=author_id,
        parent_id=parent_id,
        body=body,
    )
    db.add(comment)
    _bump(db, post.video_id, comment_count=1)
    db.flush()
    notify(
        db,
        to=post.user_id,
        type="comment",
        actor=author_id,
        video_id=post.video_id,
        comment_id=comment.id,
        text="commented on your video",
    )
    if parent is not None and parent.user_id != post.user_id:
        notify(
            db,
            to=parent.user_id,
            type="reply",
            actor=author_id,
            video_id=post.video_id,
            comment_id=comment.id,
            text="replied to your comment",
        )
    author = db.get(User, author_id)
    assert author is not None
    return _comment_out(comment, author)


def _check_comment_rate(db: Session, author_id: str) -> None:
    recent = db.scalar(
        select(func.count())
        .select_from(Comment)
        .where(Comment.user_id == author_id, Comment.created_at > now_s() - 60)
    )
    if (recent or 0) >= COMMENTS_PER_MINUTE:
        raise APIError(
            429,
            f"at most {COMMENTS_PER_MINUTE} comments a minute; wait a moment",
            param="body",
            code="rate_limit_exceeded",
            headers={"retry-after": "60"},
        )


def _reply_parent(db: Session, post: Post, author_id: str, parent_id: str | None) -> Comment | None:
    """The comment being replied to: a visible top-level comment of this post (replies
    are one level deep), else a 400 naming `parent_id`."""
    if parent_id is None:
        return None
    parent = db.get(Comment, parent_id)
    if (
        parent is None
        or parent.video_id != post.video_id
        or parent.removed
        or parent.parent_id is not None
        or blocked_between(db, author_id, parent.user_id)
    ):
        raise APIError(
            400,
            f"parent_id: {parent_id!r} is not a top-level comment of this post "
            "(replies are one level deep)",
            param="parent_id",
            code="invalid_value",
        )
    return parent


def remove_comment(db: Session, comment: Comment) -> None:
    """Take a comment down (kept for reports and audit, shown nowhere). A top-level
    comment takes its replies with it, and the post's count drops by all of them."""
    if comment.removed:
        return
    comment.removed = True
    gone = 1
    if comment.parent_id is None:
        gone += (
            db.scalar(
                select(func.count())
                .select_from(Comment)
                .where(Comment.parent_id == comment.id, ~Comment.removed)
            )
            or 0
        )
    elif (parent := db.get(Comment, comment.parent_id)) is not None and parent.removed:
        gone = 0  # already uncounted with its parent
    _bump(db, comment.video_id, comment_count=-gone)


def delete_comment(db: Session, comment_id: str, person: Person) -> None:
    """By its author, the post's creator, or a moderator; anyone else gets a 404 (as if
    it did not exist)."""
    comment = db.get(Comment, comment_id)
    post = db.get(Post, comment.video_id) if comment is not None else None
    allowed = (
        comment is not None
        and post is not None
        and not comment.removed
        and (person.id in (comment.user_id, post.user_id) or person.is_moderator)
    )
    if not allowed or comment is None:
        raise not_found("comment", comment_id, "comment_id")
    remove_comment(db, comment)


# Remixes and profiles ----------------------------------------------------------------


def remix_source(db: Session, video_id: str, person: Person) -> Video:
    """The video a remix starts from: a post the caller sees whose creator allows remixes
    (403 `remix_off` otherwise). Remixing your own video is always allowed."""
    post = visible_post(db, video_id, person)
    if post.removed:  # a moderator sees it, but nobody builds on what was taken down
        raise not_found("post", video_id, "video_id")
    if not post.allow_remix and post.user_id != person.id:
        raise APIError(
            403,
            "the creator does not allow remixes of this post",
            param="video_id",
            code="remix_off",
        )
    video = db.get(Video, video_id)
    assert video is not None
    return video


def remixes_page(
    db: Session, post: Post, viewer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Post], str | None]:
    """The post's live remixes, newest first."""
    query = select(Post).where(Post.parent_video_id == post.video_id)
    return _live_page(db, query, viewer_id, cursor, limit)


def profile_page(
    db: Session, handle: str, viewer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Post], str | None]:
    """A person's posts, newest first; a 404 naming `handle` for someone blocked either
    way, suspended, or unknown."""
    user = db.scalar(select(User).where(User.name == handle))
    if (
        user is None
        or user.suspended
        or (viewer_id is not None and blocked_between(db, viewer_id, user.id))
    ):
        raise not_found("user", handle, "handle")
    return _live_page(db, select(Post).where(Post.user_id == user.id), None, cursor, limit)


def _live_page(
    db: Session,
    query: Select[Post],
    viewer_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Post], str | None]:
    """Posted, not removed, not by anyone blocked either way; newest first, continued
    after the post named by `cursor`."""
    query = query.where(Post.posted, ~Post.removed)
    if viewer_id is not None:
        hidden = blocked_ids(db, viewer_id)
        if hidden:
            query = query.where(Post.user_id.not_in(hidden))
    if cursor:
        after = db.get(Post, cursor)
        if after is None:
            raise APIError(400, f"cursor: unknown cursor {cursor!r}", param="cursor")
        query = query.where(
            or_(
                Post.posted_at < after.posted_at,
                (Post.posted_at == after.posted_at) & (Post.video_id < after.video_id),
            )
        )
    rows = list(
        db.scalars(query.order_by(Post.posted_at.desc(), Post.video_id.desc()).limit(limit + 1))
    )
    page = rows[:limit]
    return page, page[-1].video_id if len(rows) > limit and page else None
