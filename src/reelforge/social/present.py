"""Rows → the API's models. `post_outs` serves a whole page with a fixed number of queries
(creators, the viewer's likes, the chain links), whatever the page's length."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import Like, Post, User, Video
from reelforge.service.api.schemas import (
    ChainLink,
    Counts,
    PostOut,
    RemixChain,
    UserOut,
    Why,
)


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        handle=user.name,
        display_name=user.display_name or user.name,
        avatar_url=f"/api/users/{user.name}/avatar" if user.avatar_key else None,
        role=user.role,  # type: ignore[arg-type]
    )


def post_outs(
    db: Session,
    posts: Sequence[Post],
    viewer_id: str | None,
    why: dict[str, Why] | None = None,
) -> list[PostOut]:
    """`posts` in the order given, as the viewer sees them."""
    if not posts:
        return []
    ids = [p.video_id for p in posts]
    videos = {v.id: v for v in db.scalars(select(Video).where(Video.id.in_(ids)))}
    chain_ids = {i for p in posts for i in (p.parent_video_id, p.root_video_id) if i}
    chain = {p.video_id: p for p in db.scalars(select(Post).where(Post.video_id.in_(chain_ids)))}
    user_ids = {p.user_id for p in posts} | {p.user_id for p in chain.values()}
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(user_ids)))}
    liked: set[str] = set()
    if viewer_id is not None:
        liked = set(
            db.scalars(
                select(Like.video_id).where(Like.user_id == viewer_id, Like.video_id.in_(ids))
            )
        )

    def link(video_id: str | None) -> ChainLink | None:
        if video_id is None:
            return None
        target = chain.get(video_id)
        if target is None or target.removed or not target.posted:
            return ChainLink(id=video_id, handle=None, removed=True)
        return ChainLink(id=video_id, handle=users[target.user_id].name, removed=False)

    out = []
    for post in posts:
        video = videos[post.video_id]
        base = f"/api/posts/{post.video_id}"
        out.append(
            PostOut(
                id=post.video_id,
                creator=user_out(users[post.user_id]),
                caption=post.caption,
                prompt=video.prompt,
                seconds=video.seconds,
                size=video.size,
                posted_at=post.posted_at,
                allow_remix=post.allow_remix,
                allow_download=post.allow_download,
                comments_on=post.comments_on,
                counts=Counts(
                    likes=post.like_count,
                    comments=post.comment_count,
                    remixes=post.remix_count,
                    views=post.view_count,
                ),
                liked_by_me=post.video_id in liked,
                remix=RemixChain(
                    parent=link(post.parent_video_id),
                    root=link(post.root_video_id),
                    depth=post.depth,
                ),
                video_url=f"{base}/video",
                thumbnail_url=f"{base}/thumbnail",
                download_url=f"{base}/download" if post.allow_download else None,
                provenance_url=f"{base}/provenance",
                why=(why or {}).get(post.video_id),
            )
        )
    return out
