"""/v1/videos: OpenAI's Videos API, as the official SDK calls it.

A create commits the job's row before the response goes out, so an accepted request
survives any restart. Nobody sees another user's videos: they are 404, like ids that
never existed, so ids do not leak.

Every create, remix, edit and extension casts its cameos as the app's /api/videos does
(social/cameos.py `cast`): the `characters` a create names (the caller's own character
cameos, each named in the prompt), the prompt's @handles, and for a video made from
another the source's cameos. A cameo the caller may not use is a 403 and nothing is
made; the uses are recorded in the transaction that commits the job. The prompt is
stored as sent (clients read it back): the worker finds the cast cameos in cameo_uses,
not in the prompt's words.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.models import Cameo, Video
from reelforge.engines import engine_names
from reelforge.engines.capabilities import capabilities_of
from reelforge.errors import InvalidRequest, MediaError
from reelforge.jobs.worker import MEDIA, media_key
from reelforge.media import load_image
from reelforge.pipeline import check_request
from reelforge.recaption.understood import understood
from reelforge.service import idempotency
from reelforge.service.deps import ServiceState, StateDep, UserDep, run_db
from reelforge.service.errors import APIError
from reelforge.service.forms import read_form
from reelforge.service.hardening import unencodable
from reelforge.service.v1_schemas import (
    InputReference,
    VideoCreate,
    VideoCreateForm,
    VideoDeleted,
    VideoEdit,
    VideoExtension,
    VideoList,
    VideoPublic,
    VideoRemix,
    parse_body,
    request_body,
)
from reelforge.settings import Settings
from reelforge.social import cameos as cameo_rules
from reelforge.social.posts import check_daily_quota, delete_post_rows
from reelforge.types import DEFAULT_FPS, ScenePlan, parse_size

router = APIRouter(prefix="/v1/videos", tags=["videos"])

MAX_TOTAL_SECONDS = 20
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
        # Beside OpenAI's fields: what the planner drew, what stood in for what, and what
        # it left out (null until the plan exists).
        "plan": (
            understood(ScenePlan.model_validate_json(video.plan_json)).as_dict()
            if video.plan_json
            else None
        ),
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
        form = await read_form(request)
        items = form.multi_items()
        fields: dict[str, Any] = {k: v for k, v in items if not _CHARACTERS_KEY.match(k)}
        characters = [(key, value) for key, value in items if _CHARACTERS_KEY.match(key)]
        if characters:
            fields["characters"] = _form_characters(characters)
        if isinstance(fields.get("video[id]"), str):  # {"id": ...} as the SDK's form says it
            fields["video"] = {"id": fields.pop("video[id]")}
        if fields.get("input_reference") == "":  # an empty form field: none
            del fields["input_reference"]
        return fields
    raise APIError(
        400, "send the parameters as multipart/form-data or JSON", code="unsupported_content_type"
    )


# characters, characters[], characters[][id], characters[0][id], characters[0]
_CHARACTERS_KEY = re.compile(r"^characters(?:\[(\d*)\](?:\[id\])?)?$")


def _form_characters(items: list[tuple[str, Any]]) -> list[Any]:
    """The `characters` of a form, in order. openai-python sends a list of {"id": ...} as
    repeated `characters[][id]` fields; `characters[0][id]`, `characters[]` (plain ids)
    and a `characters` field holding JSON (a list, an object) or a plain id work too."""
    numbered: list[tuple[int, int, Any]] = []
    for position, (key, value) in enumerate(items):
        match = _CHARACTERS_KEY.match(key)
        assert match is not None  # filtered by the caller
        index = int(match[1]) if match[1] else position
        if key == "characters" and isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except ValueError:
                raise APIError(
                    400,
                    f"characters is not valid JSON: {value[:80]!r}",
                    param="characters",
                    code="invalid_value",
                ) from None
            where = unencodable(value)  # "\ud800" escaped inside the JSON: not text
            if where is not None:
                param = "characters" + ("" if where == "body" else f".{where}".replace(".[", "["))
                raise APIError(
                    400,
                    f"{param}: contains a lone surrogate, which is not text; send valid Unicode",
                    param=param,
                    code="invalid_text",
                )
        for offset, each in enumerate(value if isinstance(value, list) else [value]):
            numbered.append((index, offset, each))
    return [value for _, _, value in sorted(numbered, key=lambda n: (n[0], n[1]))]


def _character_handles(db: Session, user_id: str, ids: list[str], prompt: str) -> list[str]:
    """The handles of the caller's characters `ids`, each named in the prompt (its name,
    verbatim, any case): the prompt is how the planner knows where it appears."""
    handles = []
    for character_id in ids:
        cameo = db.get(Cameo, character_id)
        if cameo is None or cameo.owner_id != user_id or cameo.deleted_at is not None:
            raise APIError(
                404,
                f"characters: no character with id {character_id!r}",
                param="characters",
                code="not_found",
            )
        if cameo.verified_at is None:  # a person's cameo whose take has not passed yet
            raise APIError(
                400,
                f"characters: {character_id} is not verified yet; it cannot be cast",
                param="characters",
                code="cameo_not_verified",
            )
        if cameo.display_name.lower() not in prompt.lower():
            raise APIError(
                400,
                f"characters: the prompt must name each character; it does not name "
                f"{cameo.display_name!r} ({character_id})",
                param="characters",
                code="character_not_in_prompt",
            )
        handles.append(cameo.handle)
    return handles


def _cast(
    db: Session,
    user_id: str,
    handles: list[str],
    prompt: str,
    *,
    source: Video | None = None,
    source_param: str = "video",
) -> list[cameo_rules.CastCameo]:
    """`cameo_rules.cast` (or, for a video made from `source`, `casts_of_video`), its
    refusals naming this API's field: the prompt for an @handle in it, else `characters`
    (or `source_param` for a cameo the source video shows)."""
    try:
        if source is not None:
            return cameo_rules.casts_of_video(db, source.id, user_id, prompt)
        return cameo_rules.cast(db, user_id, handles, prompt)
    except APIError as error:
        if error.param == "cameos":
            named = re.match(r"cameos: @([a-z0-9_]+)", error.message)
            if named is None:  # too many: the characters and the @handles together
                error.param = "characters" if handles else "prompt"
            elif named[1] in cameo_rules.mentioned_handles(prompt, []):
                error.param = "prompt"
            else:
                error.param = source_param if source is not None else "characters"
        raise


async def _reference_image(
    reference: InputReference | None, upload: UploadFile | None
) -> bytes | None:
    """The bytes of `input_reference`: an uploaded file (multipart, as the SDK sends it) or
    {"image_url": "data:image/...;base64,..."} (JSON). Other URLs are not fetched."""
    if upload is not None:
        return await upload.read()
    if reference is None:
        return None
    return image_from_data_url(reference.image_url)


def image_from_data_url(url: str) -> bytes:
    """The bytes of a base64 data URL of an image; a 400 naming input_reference else."""
    header, comma, data = url.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64") and comma):
        raise APIError(
            400,
            "input_reference.image_url must be a base64 data URL (data:image/png;base64,...); "
            "the server does not fetch remote URLs",
            param="input_reference",
            code="invalid_value",
        )
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise APIError(
            400,
            "input_reference.image_url is not valid base64",
            param="input_reference",
            code="invalid_value",
        ) from None


async def _store_reference(service: ServiceState, image: bytes, size: str) -> str:
    """Decode the image and fit it to the frame (the one decode of the upload: bounded,
    in a thread), then store that frame as a lossless PNG of exactly `size`, keyed by the
    upload and the size; returns its storage key. The worker reads it back unchanged (a
    PNG of the frame's size needs no resampling), and no upload's metadata is kept.
    Whether the engine takes an image at all is `check_engine`'s, asked before."""
    width, height = parse_size(size)
    try:
        frame = await run_in_threadpool(load_image, image, width, height)
    except MediaError as error:
        raise APIError(
            422, f"input_reference: {error}", param="input_reference", code="invalid_image"
        ) from None
    key = f"references/{hashlib.sha256(image).hexdigest()}-{width}x{height}.png"
    with tempfile.NamedTemporaryFile(prefix="reelforge-reference-", suffix=".png") as file:
        await run_in_threadpool(Image.fromarray(frame).save, file.name, format="PNG")
        await run_in_threadpool(service.storage.put_file, key, Path(file.name), "image/png")
    return key


def check_engine(
    settings: Settings,
    engine: str,
    *,
    seconds: str,
    size: str,
    image: bool = False,
    cameos: int = 0,
    cameos_param: str = "characters",
) -> None:
    """A 400 naming the field unless `engine` can make this video: the pipeline's own
    check (pipeline.check_request) asked when the video is created, so a request the
    engine cannot serve is refused now instead of failing in the worker later. `cameos`
    counts the cast cameos with a likeness (the ones the worker hands the engine); a
    refusal of them names `cameos_param`, this route's field for them."""
    try:
        check_request(
            engine,
            capabilities_of(engine, settings),
            seconds=float(seconds),
            size=size,
            fps=DEFAULT_FPS,
            input_reference=image,
            cameos=cameos,
        )
    except InvalidRequest as error:
        param = cameos_param if error.param == "cameos" else error.param
        raise APIError(
            400, error.message, param=param, code=error.code or "unsupported_parameter"
        ) from None


def drawn_cameos(db: Session, casts: list[cameo_rules.CastCameo]) -> int:
    """How many of `casts` have a likeness: those the engine is asked to draw (a character
    cameo without one is drawn by the planner from the prompt's words, by any engine)."""
    return sum(
        (cameo := db.get(Cameo, cast.cameo_id)) is not None and cameo.likeness_json is not None
        for cast in casts
    )


_DATED = re.compile(r"^(sora-2(?:-pro)?)(?:-\d{4}-\d{2}-\d{2})?$")


def engine_for_model(model: str, settings: Settings) -> str:
    """sora-2, sora-2-pro and their dated variants map to their configured engines; an
    engine's own name is a model too. Anything else is a 400 naming `model`."""
    if model in engine_names():
        return model
    match = _DATED.match(model)
    if match is None:
        raise APIError(
            400,
            f"model must be sora-2, sora-2-pro (or a dated variant such as "
            f"sora-2-2025-10-06) or an engine ({', '.join(engine_names())}), got {model!r}",
            param="model",
            code="invalid_value",
        )
    configured = settings.sora2_pro_engine if match[1] == "sora-2-pro" else settings.sora2_engine
    return configured or settings.default_engine


@router.post(
    "", response_model=VideoPublic, openapi_extra=request_body(VideoCreate, VideoCreateForm)
)
async def create_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    fields = await _fields(request)
    upload = fields.pop("input_reference", None)
    if not isinstance(upload, UploadFile):  # not a file: the model reads what it is
        if upload is not None:
            fields["input_reference"] = upload
        upload = None
    body = parse_body(VideoCreate, fields)
    prompt, seconds, size, model = body.prompt, body.seconds, body.size, body.model
    engine = engine_for_model(model, service.settings)
    character_ids = [character.id for character in body.characters]
    image = await _reference_image(body.input_reference, upload)
    # In a thread: the first look at a learned engine's capabilities imports torch.
    await run_in_threadpool(
        check_engine, service.settings, engine, seconds=seconds, size=size, image=bool(image)
    )
    reference_key = await _store_reference(service, image, size) if image else None
    video = Video(
        id=f"video_{secrets.token_hex(12)}",
        user_id=user.id,
        status="queued",
        progress=0,
        model=model,
        engine=engine,
        input_reference_key=reference_key,
        prompt=prompt,
        size=size,
        seconds=seconds,
        seed=secrets.randbelow(2**31),
        sequence=time.time_ns(),
    )

    def work(db: Session) -> dict[str, Any]:
        handles = _character_handles(db, user.id, character_ids, prompt)
        casts = _cast(db, user.id, handles, prompt)  # 403: nothing is made
        check_engine(
            service.settings, engine, seconds=seconds, size=size, cameos=drawn_cameos(db, casts)
        )
        return _submit(db, service, video, casts)

    _poll_headers(response)
    return await run_db(service, work)


def _submit(
    db: Session,
    service: ServiceState,
    video: Video,
    casts: tuple[cameo_rules.CastCameo, ...] | list[cameo_rules.CastCameo] = (),
    *,
    event: str = "draft",
) -> dict[str, Any]:
    """Commit the job's row with the uses of the cameos it casts, then announce it: an
    accepted request is never lost (a lost announcement is made again by the worker's
    scan of queued rows). Every video counts against its user's daily quota, however it
    was asked for."""
    check_daily_quota(db, video.user_id, service.settings.daily_generation_quota)
    _check_active_jobs(db, video.user_id, service.settings.max_active_jobs_per_user)
    if casts:  # the app's routes record their uses themselves, then submit
        cameo_rules.record_uses(db, video, list(casts), event=event)
    db.add(video)
    idempotency.settle(db, video.id)  # in this transaction: a retry finds it
    db.commit()
    service.queue.enqueue(video.id)
    return video_public(video)


def _check_active_jobs(db: Session, user_id: str, limit: int) -> None:
    """A user's queued + running jobs are capped, so one burst cannot fill the queue (the
    worker's fair pick keeps others' jobs moving; this keeps the queue itself bounded)."""
    active = db.scalar(
        select(func.count())
        .select_from(Video)
        .where(Video.user_id == user_id, Video.status.in_(("queued", "in_progress")))
    )
    if (active or 0) >= limit:
        raise APIError(
            429,
            f"at most {limit} videos may be queued or in progress per user; "
            f"you have {active}: wait for some to finish",
            code="too_many_active_jobs",
        )


@router.get("", response_model=VideoList)
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


def _no_uploaded_video(fields: dict[str, Any]) -> None:
    """An edit or extension starts from a video made here, named by id."""
    if isinstance(fields.get("video"), UploadFile):
        raise APIError(
            400,
            "editing or extending an uploaded video file is not supported by "
            'the sim engine; pass {"id": ...} of a completed video',
            param="video",
            code="unsupported_parameter",
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
        input_reference_key=source.input_reference_key,
    )
    return video


def check_derived(
    db: Session,
    settings: Settings,
    video: Video,
    casts: list[cameo_rules.CastCameo],
    *,
    cameos_param: str,
) -> None:
    """`check_engine` for a remix, edit or extension: its source's engine, size and first
    frame, its own seconds, and the cameos it casts (the source's, named `cameos_param`)."""
    check_engine(
        settings,
        video.engine,
        seconds=video.seconds,
        size=video.size,
        image=video.input_reference_key is not None,
        cameos=drawn_cameos(db, casts),
        cameos_param=cameos_param,
    )


@router.post("/edits", response_model=VideoPublic, openapi_extra=request_body(VideoEdit))
async def edit_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    fields = await _fields(request)
    _no_uploaded_video(fields)
    body = parse_body(VideoEdit, fields)
    prompt, source_id = body.prompt, body.video.id

    def work(db: Session) -> dict[str, Any]:
        source = _owned(db, source_id, user.id, param="video")
        video = _derived(source, prompt, "edit", source.seconds, None)
        casts = _cast(db, user.id, [], prompt, source=source)
        check_derived(db, service.settings, video, casts, cameos_param="video")
        return _submit(db, service, video, casts)

    _poll_headers(response)
    return await run_db(service, work)


@router.post("/extensions", response_model=VideoPublic, openapi_extra=request_body(VideoExtension))
async def extend_video(
    request: Request, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    fields = await _fields(request)
    _no_uploaded_video(fields)
    body = parse_body(VideoExtension, fields)
    prompt, seconds, source_id = body.prompt, body.seconds, body.video.id
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
    video = _derived(source, prompt, "extension", str(total), None)
    casts = _cast(db, user_id, [], prompt, source=source)
    check_derived(db, service.settings, video, casts, cameos_param="video")
    return _submit(db, service, video, casts)


@router.post(
    "/{video_id}/remix", response_model=VideoPublic, openapi_extra=request_body(VideoRemix)
)
async def remix_video(
    video_id: str,
    request: Request,
    response: Response,
    user: UserDep,
    service: StateDep,
) -> dict[str, Any]:
    prompt = parse_body(VideoRemix, await _fields(request)).prompt

    def work(db: Session) -> dict[str, Any]:
        source = _owned(db, video_id, user.id)
        video = _derived(source, prompt, "remix", source.seconds, source.id)
        casts = _cast(db, user.id, [], prompt, source=source, source_param="video_id")
        check_derived(db, service.settings, video, casts, cameos_param="video_id")
        return _submit(db, service, video, casts, event="remix")

    _poll_headers(response)
    return await run_db(service, work)


@router.get("/{video_id}", response_model=VideoPublic)
async def retrieve_video(
    video_id: str, response: Response, user: UserDep, service: StateDep
) -> dict[str, Any]:
    _poll_headers(response)
    return await run_db(service, lambda db: video_public(_owned(db, video_id, user.id)))


@router.delete("/{video_id}", response_model=VideoDeleted)
async def delete_video(video_id: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    def work(db: Session) -> dict[str, Any]:
        forget_video(db, service, _owned(db, video_id, user.id))
        return {"id": video_id, "object": "video.deleted", "deleted": True}

    return await run_db(service, work)


def forget_video(db: Session, service: ServiceState, video: Video) -> None:
    """Delete the video: its post in the app (with its likes, comments, views), its row,
    then its files (the row first: files of a committed row are never missing)."""
    video_id, reference, prefix = video.id, video.input_reference_key, video.media_prefix
    running = video.status == "in_progress"
    delete_post_rows(db, video_id)
    db.delete(video)  # a running job's worker sees its row gone at the next step and stops
    db.commit()
    if not running:
        for variant in MEDIA:
            service.storage.delete(media_key(video_id, variant, prefix))
    shared = db.scalar(select(Video.id).where(Video.input_reference_key == reference).limit(1))
    if reference is not None and shared is None and not running:
        service.storage.delete(reference)


@router.get("/{video_id}/content")
async def download_content(
    video_id: str,
    user: UserDep,
    service: StateDep,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> Response:
    """The file, streamed; with S3 storage, a 307 to a presigned URL of it instead (the SDK
    follows it, without the API key, which never leaves for the storage's host)."""
    video = await run_db(service, lambda db: _owned(db, video_id, user.id))
    if video.status != "completed":
        raise APIError(
            409,
            f"video {video_id} is not ready: its status is {video.status}",
            param="video_id",
            code="video_not_ready",
        )
    key = media_key(video_id, variant, video.media_prefix)
    ttl_s = service.settings.s3_presign_ttl_s
    if ttl_s > 0:
        url = await run_in_threadpool(service.storage.presigned_url, key, ttl_s)
        if url is not None:
            return RedirectResponse(url, status_code=307)
    handle = await run_in_threadpool(service.storage.open, key)
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
