"""/api/ routes: making clips, drafts, posts and their media, reactions, comments, remix
chains and a profile's posts (docs/APP.md's route table). The rules live in
social/posts.py; a route checks who is calling, runs one piece of database work, and
serialises.

Clips are made exactly as /v1/videos makes them (service/videos.py's row, `_submit` and
`_derived`), so the worker, the webhooks and provenance treat both the same; an app video
is a draft of its creator until posted.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reelforge.db.models import Post, Video
from reelforge.errors import MediaError
from reelforge.jobs.worker import MEDIA, served_key
from reelforge.provenance.verify import Verification, verify_file
from reelforge.service.api.schemas import (
    CommentIn,
    CommentOut,
    CreateIn,
    DeletedOut,
    Page,
    PostIn,
    PostOut,
    ProvenanceOut,
    RemixIn,
    SeeLessOut,
    VideoOut,
    ViewIn,
    ViewOut,
)
from reelforge.service.auth import MaybePersonDep, Person, PersonDep
from reelforge.service.deps import ServiceState, StateDep, run_db
from reelforge.service.errors import APIError
from reelforge.service.v1_schemas import DEFAULT_MODEL
from reelforge.service.videos import (
    _chunks,
    _derived,
    _store_reference,
    _submit,
    check_derived,
    check_engine,
    drawn_cameos,
    engine_for_model,
    forget_video,
    image_from_data_url,
)
from reelforge.social import cameos as cameo_rules
from reelforge.social import embedding
from reelforge.social import posts as rules
from reelforge.social.present import post_outs
from reelforge.storage import LocalStorage

router = APIRouter(prefix="/api", tags=["app: posts"])

Limit = Query(default=20, ge=1, le=100)
MEDIA_CACHE = "private, max-age=60"  # a take-down reaches players within a minute


# Making clips; drafts ----------------------------------------------------------------


@router.post("/videos")
async def create_video(body: CreateIn, person: PersonDep, service: StateDep) -> VideoOut:
    """Start a clip (a private draft) from a prompt, and optionally a first frame, as
    /v1/videos does."""
    engine = engine_for_model(DEFAULT_MODEL, service.settings)
    image = image_from_data_url(body.input_reference) if body.input_reference else None
    await run_in_threadpool(  # in a thread: a learned engine's first look imports torch
        check_engine,
        service.settings,
        engine,
        seconds=body.seconds,
        size=body.size,
        image=bool(image),
    )
    reference_key = await _store_reference(service, image, body.size) if image else None

    def work(db: Session) -> VideoOut:
        casts = cameo_rules.cast(db, person.id, body.cameos, body.prompt)  # 403: nothing made
        check_engine(
            service.settings,
            engine,
            seconds=body.seconds,
            size=body.size,
            cameos=drawn_cameos(db, casts),
            cameos_param="cameos",
        )
        video = Video(
            id=f"video_{secrets.token_hex(12)}",
            user_id=person.id,
            status="queued",
            progress=0,
            model=DEFAULT_MODEL,
            engine=engine,
            input_reference_key=reference_key,
            prompt=cameo_rules.with_mentions(body.prompt, casts),
            size=body.size,
            seconds=body.seconds,
            seed=secrets.randbelow(2**31),
            sequence=time.time_ns(),
        )
        cameo_rules.record_uses(db, video, casts)
        _submit(db, service, video)
        return rules.video_outs(db, [video])[0]

    return await run_db(service, work)


@router.get("/videos/{video_id}")
async def get_video(video_id: str, person: PersonDep, service: StateDep) -> VideoOut:
    return await run_db(
        service, lambda db: rules.video_outs(db, [rules.own_video(db, video_id, person.id)])[0]
    )


@router.get("/drafts")
async def list_drafts(
    person: PersonDep,
    service: StateDep,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[VideoOut]:
    return await run_db(service, lambda db: rules.drafts_page(db, person.id, cursor, limit))


@router.delete("/videos/{video_id}")
async def delete_video(video_id: str, person: PersonDep, service: StateDep) -> DeletedOut:
    """Delete a draft or a post for good: its files, its post and everything on it."""

    def work(db: Session) -> DeletedOut:
        forget_video(db, service, rules.own_video(db, video_id, person.id))
        return DeletedOut(id=video_id, deleted=True)

    return await run_db(service, work)


# Posting -----------------------------------------------------------------------------


@router.post("/videos/{video_id}/post")
async def post_video(video_id: str, body: PostIn, person: PersonDep, service: StateDep) -> PostOut:
    """Publish a completed draft (or change a post's caption and toggles)."""

    # 1. Check it may be posted, and read what it is about.
    def check(db: Session) -> str:
        cameo_rules.check_postable(db, video_id)
        return rules.postable_video(db, video_id, person.id).prompt

    prompt = await run_db(service, check)
    # 2. Embed caption and prompt outside any database session (10-50 ms of CPU).
    text = embedding.post_text(body.caption, prompt)
    vector = (await run_in_threadpool(embedding.encode, [text]))[0]

    # 3. Publish, checking again: the video may have changed meanwhile.
    def work(db: Session) -> PostOut:
        video = rules.postable_video(db, video_id, person.id)
        cameo_rules.check_postable(db, video.id)
        first_time = not rules.is_live(db.get(Post, video.id))
        post = rules.publish(db, video, body, embedding.to_blob(vector))
        if first_time:
            cameo_rules.note_event(db, video.id, person.id, "post")
        db.commit()
        return _post_out(db, post, person)

    return await run_db(service, work)


@router.post("/posts/{video_id}/unpost")
async def unpost(video_id: str, person: PersonDep, service: StateDep) -> VideoOut:
    """Take a post back to a draft."""

    def work(db: Session) -> VideoOut:
        rules.unpublish(db, video_id, person.id)
        db.commit()
        return rules.video_outs(db, [rules.own_video(db, video_id, person.id)])[0]

    return await run_db(service, work)


@router.get("/posts/{video_id}")
async def get_post(video_id: str, viewer: MaybePersonDep, service: StateDep) -> PostOut:
    return await run_db(
        service, lambda db: _post_out(db, rules.visible_post(db, video_id, viewer), viewer)
    )


def _post_out(db: Session, post: Post, viewer: Person | None) -> PostOut:
    db.refresh(post)  # counters are changed by SQL arithmetic, not on this object
    return post_outs(db, [post], viewer.id if viewer else None)[0]


# Media -------------------------------------------------------------------------------


@router.get("/posts/{video_id}/video")
async def post_video_file(video_id: str, viewer: MaybePersonDep, service: StateDep) -> Response:
    """The MP4. Byte ranges are honoured (browsers seek with them)."""
    await run_db(service, lambda db: rules.media_video(db, video_id, viewer))
    return await _send(service, video_id, "video")


@router.get("/posts/{video_id}/thumbnail")
async def post_thumbnail(video_id: str, viewer: MaybePersonDep, service: StateDep) -> Response:
    await run_db(service, lambda db: rules.media_video(db, video_id, viewer))
    return await _send(service, video_id, "thumbnail")


@router.get("/posts/{video_id}/download")
async def post_download(video_id: str, viewer: MaybePersonDep, service: StateDep) -> Response:
    """The MP4 as an attachment, when the creator allows downloads (they always may)."""

    def work(db: Session) -> None:
        video = rules.media_video(db, video_id, viewer)
        post = db.get(Post, video_id)
        mine = viewer is not None and viewer.id == video.user_id
        if not mine and (post is None or not post.allow_download):
            raise APIError(
                403,
                "the creator does not allow downloads of this post",
                param="video_id",
                code="download_off",
            )
        cameo_rules.note_event(db, video_id, viewer.id if viewer else None, "download")
        db.commit()

    await run_db(service, work)
    return await _send(service, video_id, "video", attachment=True)


async def _send(
    service: ServiceState, video_id: str, variant: str, *, attachment: bool = False
) -> Response:
    """A stored file: from local storage with Range support; from S3 a 307 to a presigned
    URL (S3 honours Range itself), or streamed whole when presigning is off or the file is
    an attachment (a presigned URL cannot set Content-Disposition here)."""
    key = await run_in_threadpool(served_key, service.factory, video_id, variant)
    media_type = MEDIA[variant][1]
    filename = f"{video_id}.mp4" if attachment else None
    storage = service.storage
    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if not path.is_file():
            raise rules.not_found("file for", video_id, "video_id")
        return FileResponse(
            path,
            media_type=media_type,
            filename=filename,
            headers={"cache-control": MEDIA_CACHE},
        )
    ttl_s = service.settings.s3_presign_ttl_s
    if ttl_s > 0 and not attachment:
        url = await run_in_threadpool(storage.presigned_url, key, ttl_s)
        if url is not None:
            return RedirectResponse(url, status_code=307)
    handle = await run_in_threadpool(storage.open, key)
    headers = {"cache-control": MEDIA_CACHE}
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(_chunks(handle), media_type=media_type, headers=headers)


@router.get("/posts/{video_id}/provenance")
async def post_provenance(
    video_id: str, viewer: MaybePersonDep, service: StateDep
) -> ProvenanceOut:
    """What the stored file itself says about where it came from: the same verification
    as `reelforge verify` (C2PA manifest, watermarks, the registry)."""
    await run_db(service, lambda db: rules.media_video(db, video_id, viewer))
    cached = _provenance_cache.get(video_id)
    if cached is None:
        report = await run_in_threadpool(_verify_stored, service, video_id)
        cached = _provenance_cache.put(video_id, _provenance_out(report))
    return cached


def _verify_stored(service: ServiceState, video_id: str) -> Verification:
    key = served_key(service.factory, video_id, "video")
    registry = service.registry
    try:
        if isinstance(service.storage, LocalStorage):
            return verify_file(service.storage.path(key), service.settings, registry=registry)
        with tempfile.TemporaryDirectory(prefix="reelforge-verify-") as tmp:
            path = Path(tmp) / "video.mp4"
            with service.storage.open(key) as source, path.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            return verify_file(path, service.settings, registry=registry)
    except MediaError:
        raise APIError(
            422,
            "the stored file is not a readable video",
            param="video_id",
            code="invalid_video",
        ) from None


def _provenance_out(report: Verification) -> ProvenanceOut:
    """The badge's facts. The registry (found through the watermark) names the creator,
    engine and parent; a valid manifest's own claims stand in when it does not. The
    cameos are those a valid manifest's consent assertion names."""
    c2pa_valid = report.c2pa.state in ("Valid", "Trusted")
    claims = report.c2pa.generation if c2pa_valid else {}
    record = report.record
    parent = claims.get("parent") or {}
    return ProvenanceOut(
        c2pa_valid=c2pa_valid,
        watermark_found=any(
            found is not None and found.detected for found in (report.video, report.audio)
        ),
        model=record.engine if record else claims.get("engine"),
        creator=record.creator if record else None,
        parent_video_id=(record.parent_video_id if record else None) or parent.get("video_id"),
        summary=report.summary,
        cameos=report.c2pa.cameo_ids if c2pa_valid else [],
    )


class _Cache:
    """The last few hundred verifications: a stored clip never changes, and a feed asks
    for every item's badge (a verification decodes seconds of video)."""

    def __init__(self, size: int) -> None:
        self.size, self._items = size, OrderedDict[str, ProvenanceOut]()
        self._lock = threading.Lock()

    def get(self, key: str) -> ProvenanceOut | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: str, value: ProvenanceOut) -> ProvenanceOut:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


_provenance_cache = _Cache(512)


# Reactions ---------------------------------------------------------------------------


@router.post("/posts/{video_id}/like")
async def like(video_id: str, person: PersonDep, service: StateDep) -> PostOut:
    return await _react(service, video_id, person, rules.like)


@router.delete("/posts/{video_id}/like")
async def unlike(video_id: str, person: PersonDep, service: StateDep) -> PostOut:
    return await _react(service, video_id, person, rules.unlike)


async def _react(service: ServiceState, video_id: str, person: Person, action: Any) -> PostOut:
    def work(db: Session) -> PostOut:
        post = rules.visible_post(db, video_id, person)
        action(db, post, person.id)
        db.commit()
        return _post_out(db, post, person)

    return await run_db(service, work)


@router.post("/posts/{video_id}/view")
async def view(video_id: str, body: ViewIn, person: PersonDep, service: StateDep) -> ViewOut:
    """Record watching: `watched_ms` adds up over calls; `completed` once watched to the
    end."""

    def work(db: Session) -> ViewOut:
        post = rules.visible_post(db, video_id, person)
        seen = rules.record_view(db, post, person.id, body.watched_ms, body.completed)
        out = ViewOut(video_id=video_id, watched_ms=seen.watched_ms, completed=seen.completed)
        db.commit()
        return out

    return await run_db(service, work)


@router.post("/posts/{video_id}/see-less")
async def see_less(video_id: str, person: PersonDep, service: StateDep) -> SeeLessOut:
    def work(db: Session) -> SeeLessOut:
        rules.see_less(db, rules.visible_post(db, video_id, person), person.id)
        db.commit()
        return SeeLessOut(video_id=video_id, see_less=True)

    return await run_db(service, work)


# Comments ----------------------------------------------------------------------------


@router.get("/posts/{video_id}/comments")
async def list_comments(
    video_id: str,
    viewer: MaybePersonDep,
    service: StateDep,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[CommentOut]:
    def work(db: Session) -> Page[CommentOut]:
        post = rules.visible_post(db, video_id, viewer)
        return rules.comments_page(db, post, viewer.id if viewer else None, cursor, limit)

    return await run_db(service, work)


@router.post("/posts/{video_id}/comments")
async def add_comment(
    video_id: str, body: CommentIn, person: PersonDep, service: StateDep
) -> CommentOut:
    def work(db: Session) -> CommentOut:
        post = rules.visible_post(db, video_id, person)
        out = rules.add_comment(db, post, person.id, body.body, body.parent_id)
        db.commit()
        return out

    return await run_db(service, work)


@router.delete("/comments/{comment_id}")
async def delete_comment(comment_id: str, person: PersonDep, service: StateDep) -> DeletedOut:
    def work(db: Session) -> DeletedOut:
        rules.delete_comment(db, comment_id, person)
        db.commit()
        return DeletedOut(id=comment_id, deleted=True)

    return await run_db(service, work)


# Remixes and profiles ----------------------------------------------------------------


@router.post("/posts/{video_id}/remix")
async def remix(video_id: str, body: RemixIn, person: PersonDep, service: StateDep) -> VideoOut:
    """A new draft of the caller's that starts from the post's plan (its motion), with the
    prompt's changes, as /v1/videos/{id}/remix makes it. Posted, it joins the chain."""

    def work(db: Session) -> VideoOut:
        source = rules.remix_source(db, video_id, person)
        casts = cameo_rules.casts_of_video(db, source.id, person.id, body.prompt)
        video = _derived(source, body.prompt, "remix", source.seconds, source.id)
        check_derived(db, service.settings, video, casts, cameos_param="video_id")
        video.user_id = person.id
        video.prompt = cameo_rules.with_mentions(video.prompt, casts)
        cameo_rules.record_uses(db, video, casts, event="remix")
        _submit(db, service, video)
        return rules.video_outs(db, [video])[0]

    return await run_db(service, work)


@router.get("/posts/{video_id}/remixes")
async def list_remixes(
    video_id: str,
    viewer: MaybePersonDep,
    service: StateDep,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[PostOut]:
    viewer_id = viewer.id if viewer else None

    def work(db: Session) -> Page[PostOut]:
        post = rules.visible_post(db, video_id, viewer)
        page, next_cursor = rules.remixes_page(db, post, viewer_id, cursor, limit)
        return Page(data=post_outs(db, page, viewer_id), next_cursor=next_cursor)

    return await run_db(service, work)


@router.get("/users/{handle}/posts")
async def list_user_posts(
    handle: str,
    viewer: MaybePersonDep,
    service: StateDep,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[PostOut]:
    viewer_id = viewer.id if viewer else None

    def work(db: Session) -> Page[PostOut]:
        page, next_cursor = rules.profile_page(db, handle, viewer_id, cursor, limit)
        return Page(data=post_outs(db, page, viewer_id), next_cursor=next_cursor)

    return await run_db(service, work)
