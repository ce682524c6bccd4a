"""/v1/videos: OpenAI's Videos API, as the official SDK calls it.

A create commits the job's row before the response goes out, so an accepted request
survives any restart. Nobody sees another user's videos: they are 404, like ids that
never existed, so ids do not leak.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.models import Video
from reelforge.jobs.worker import MEDIA, media_key
from reelforge.service.deps import ServiceState, StateDep, UserDep, run_db
from reelforge.service.errors import APIError
from reelforge.types import API_SIZES, MAX_PROMPT_CHARS

router = APIRouter(prefix="/v1/videos", tags=["videos"])

ALLOWED_SECONDS = ("4", "8", "12", "16", "20")
MAX_TOTAL_SECONDS = 20
DEFAULT_MODEL = "sora-2"
POLL_AFTER_MS = "500"


def video_public(video: Video) -> dict[str, Any]:
    error = (
        {"code": video.error_code, "message": video.error_message}
        if video.status == "failed"
        else None
    )
    return {
        "id": video.id,
        "object": "video",
        "model": video.model,
        "status": video.status,
        "progress": video.progress,
        "created_at": video.created_at,
        "completed_at": video.completed_at,
        "expires_at": video.expires_at,
        "prompt": video.prompt,
        "size": video.size,
        "seconds": video.seconds,
        "remixed_from_video_id": video.remixed_from_video_id,
        "error": error,
    }


def _poll_headers(response: Response) -> None:
    response.headers["openai-poll-after-ms"] = POLL_AFTER_MS


async def _fields(request: Request) -> dict[str, Any]:
    """The create parameters, from multipart/form (what the SDK sends) or JSON."""
    content_type = request.headers.get("content-type", "")
    if not content_type and not await request.body():
        return {}  # no body at all: every required field is missing
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise APIError(400, "the request body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise APIError(400, "the request body must be a JSON object", code="invalid_json")
        return body
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        return {key: value for key, value in form.multi_items()}
    raise APIError(
        400, "send the parameters as multipart/form-data or JSON", code="unsupported_content_type"
    )


def _seconds(fields: dict[str, Any], default: str | None) -> str:
    seconds = str(fields.get("seconds", default if default is not None else ""))
    if seconds not in ALLOWED_SECONDS:
        raise APIError(
            400,
            f"seconds must be one of {', '.join(ALLOWED_SECONDS)}, got {seconds!r}",
            param="seconds",
            code="invalid_value",
        )
    return seconds


def _check_create(fields: dict[str, Any]) -> tuple[str, str, str, str]:
    prompt = _prompt(fields)
    seconds = _seconds(fields, default="4")
    size = str(fields.get("size", "720x1280"))
    if size not in API_SIZES:
        raise APIError(
            400,
            f"size must be one of {', '.join(API_SIZES)}, got {size!r}",
            param="size",
            code="invalid_value",
        )
    model = str(fields.get("model") or DEFAULT_MODEL)
    if len(model) > 64:
        raise APIError(
            400, "model must be at most 64 characters", param="model", code="invalid_value"
        )
    if fields.get("input_reference") not in (None, ""):
        reference = fields["input_reference"]
        if not isinstance(reference, UploadFile | dict):
            raise APIError(
                400,
                "input_reference must be an image file or {image_url}",
                param="input_reference",
                code="invalid_value",
            )
        raise APIError(
            400,
            "input_reference (image-to-video) is not supported by the sim "
            "engine; it comes with the dit engine",
            param="input_reference",
            code="unsupported_parameter",
        )
    return prompt, seconds, size, model


def engine_for_model(model: str, default_engine: str) -> str:
    """sora-2, sora-2-pro and their dated variants map to the configured engine."""
    return default_engine


@router.post("")
async def create_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    prompt, seconds, size, model = _check_create(await _fields(request))
    video = Video(
        id=f"video_{secrets.token_hex(12)}",
        user_id=user.id,
        status="queued",
        progress=0,
        model=model,
        engine=engine_for_model(model, service.settings.default_engine),
        prompt=prompt,
        size=size,
        seconds=seconds,
        seed=secrets.randbelow(2**31),
        sequence=time.time_ns(),
    )
    _poll_headers(response)
    return await run_db(service, lambda db: _submit(db, service, video))


def _submit(db: Session, service: ServiceState, video: Video) -> dict[str, Any]:
    """Commit the job's row, then announce it: an accepted request is never lost (a lost
    announcement is made again by the worker's scan of queued rows)."""
    db.add(video)
    db.commit()
    service.queue.enqueue(video.id)
    return video_public(video)


@router.get("")
async def list_videos(
    response: Response,
    user: UserDep,
    service: StateDep,
    after: str | None = None,
    limit: int = Query(default=20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    _poll_headers(response)
    return await run_db(service, lambda db: _page(db, user.id, after, limit, order))


def _page(db: Session, user_id: str, after: str | None, limit: int, order: str) -> dict[str, Any]:
    query = select(Video).where(Video.user_id == user_id)
    if after:
        cursor = _owned(db, after, user_id, param="after")
        query = query.where(
            Video.sequence < cursor.sequence
            if order == "desc"
            else Video.sequence > cursor.sequence
        )
    ordering = Video.sequence.desc() if order == "desc" else Video.sequence.asc()
    rows = db.scalars(query.order_by(ordering).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "object": "list",
        "data": [video_public(v) for v in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": len(rows) > limit,
    }


def _video_reference(fields: dict[str, Any]) -> str:
    """The source video of an edit or extension: {"id": ...} (JSON) or video[id] (form)."""
    video = fields.get("video")
    if isinstance(video, dict) and isinstance(video.get("id"), str):
        return video["id"]
    if isinstance(fields.get("video[id]"), str):
        return str(fields["video[id]"])
    if isinstance(video, UploadFile):
        raise APIError(
            400,
            "editing or extending an uploaded video file is not supported by "
            'the sim engine; pass {"id": ...} of a completed video',
            param="video",
            code="unsupported_parameter",
        )
    raise APIError(
        400,
        'video is required: {"id": "video_..."} of a completed video',
        param="video",
        code="invalid_value",
    )


def _derived(
    source: Video,
    prompt: str,
    kind: str,
    seconds: str,
    remixed_from: str | None,
) -> Video:
    """A new job that starts from `source`'s plan (same seed, so the same motion)."""
    if source.status != "completed" or not source.plan_json:
        raise APIError(
            409,
            f"video {source.id} is not completed (status {source.status})",
            param="video_id",
            code="video_not_ready",
        )
    video = Video(
        id=f"video_{secrets.token_hex(12)}",
        user_id=source.user_id,
        status="queued",
        progress=0,
        model=source.model,
        engine=source.engine,
        prompt=prompt,
        size=source.size,
        seconds=seconds,
        seed=source.seed,
        sequence=time.time_ns(),
        kind=kind,
        source_video_id=source.id,
        remixed_from_video_id=remixed_from,
        base_plan_json=source.plan_json,
    )
    return video


def _prompt(fields: dict[str, Any]) -> str:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise APIError(
            400, "prompt is required and must not be empty", param="prompt", code="invalid_value"
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise APIError(
            400,
            f"prompt must be at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}",
            param="prompt",
            code="invalid_value",
        )
    return prompt


@router.post("/edits")
async def edit_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    fields = await _fields(request)
    prompt = _prompt(fields)
    source_id = _video_reference(fields)

    def work(db: Session) -> dict[str, Any]:
        source = _owned(db, source_id, user.id, param="video")
        return _submit(db, service, _derived(source, prompt, "edit", source.seconds, None))

    _poll_headers(response)
    return await run_db(service, work)


@router.post("/extensions")
async def extend_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    fields = await _fields(request)
    prompt = _prompt(fields)
    seconds = _seconds(fields, default=None)  # required for an extension
    source_id = _video_reference(fields)
    _poll_headers(response)
    return await run_db(
        service, lambda db: _extend(db, service, user.id, source_id, prompt, seconds)
    )


def _extend(
    db: Session, service: ServiceState, user_id: str, source_id: str, prompt: str, seconds: str
) -> dict[str, Any]:
    source = _owned(db, source_id, user_id, param="video")
    total = int(source.seconds) + int(seconds)
    if total > MAX_TOTAL_SECONDS:
        raise APIError(
            400,
            f"an extension of {seconds} s would make the video {total} s; the "
            f"sim engine makes at most {MAX_TOTAL_SECONDS} s",
            param="seconds",
            code="invalid_value",
        )
    # The sim is deterministic: the same plan and seed, run longer, replays the source
    # exactly and then goes on; the prompt's changes apply to the whole clip.
    return _submit(db, service, _derived(source, prompt, "extension", str(total), None))


@router.post("/{video_id}/remix")
async def remix_video(
    video_id: str,
    request: Request,
    response: Response,
    user: UserDep,
    service: StateDep,
) -> dict[str, Any]:
    fields = await _fields(request)
    prompt = _prompt(fields)

    def work(db: Session) -> dict[str, Any]:
        source = _owned(db, video_id, user.id)
        return _submit(db, service, _derived(source, prompt, "remix", source.seconds, source.id))

    _poll_headers(response)
    return await run_db(service, work)


@router.get("/{video_id}")
async def retrieve_video(
    video_id: str, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    _poll_headers(response)
    return await run_db(service, lambda db: video_public(_owned(db, video_id, user.id)))


@router.delete("/{video_id}")
async def delete_video(video_id: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    def work(db: Session) -> dict[str, Any]:
        video = _owned(db, video_id, user.id)
        running = video.status == "in_progress"
        db.delete(video)  # a running job's worker sees its row gone at the next step and stops
        db.commit()
        if not running:
            for variant in MEDIA:
                service.storage.delete(media_key(video_id, variant))
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    return await run_db(service, work)


@router.get("/{video_id}/content")
async def download_content(
    video_id: str,
    user: UserDep,
    service: StateDep,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> StreamingResponse:
    video = await run_db(service, lambda db: _owned(db, video_id, user.id))
    if video.status != "completed":
        raise APIError(
            409,
            f"video {video_id} is not ready: its status is {video.status}",
            param="video_id",
            code="video_not_ready",
        )
    handle = await run_in_threadpool(service.storage.open, media_key(video_id, variant))
    return StreamingResponse(_chunks(handle), media_type=MEDIA[variant][1])


def _chunks(handle: Any) -> Any:
    with handle:
        while chunk := handle.read(1 << 16):
            yield chunk


def _owned(db: Session, video_id: str, user_id: str, param: str = "video_id") -> Video:
    video = db.get(Video, video_id)
    if video is None or video.user_id != user_id:
        raise APIError(404, f"no video with id {video_id!r}", param=param, code="not_found")
    return video
