"""/v1/videos/characters: the OpenAI-compatible API's characters are character cameos.

A character made here is a cameo of kind "character" (social/cameos.py), owned by the key's
user and kept to them ("only me") until they open it up in the app, so one set of consent
rules decides every video that shows it, whichever surface asks for the video.

Making one (POST, multipart `name` and `video`):

1. The fields: `name` 1..80 characters, `video` an uploaded file.
2. The upload: a readable video (422 naming `video`) of at most MAX_CHARACTER_SECONDS
   (400 naming `video`), and a real one, by its headers before anything is decoded (at
   most 4K UHD, at least MIN_CHARACTER_FRAMES frames over MIN_CHARACTER_SECONDS, a sound
   track) and by its sampled frames (not all the same picture): 422 naming `video`.
3. Not a real person. A character needs no liveness check, so it must not show anyone:
   MTCNN (cameos/faces.py) looks at FACE_SAMPLES frames spread over the clip, read at
   SAMPLE_WIDTH px wide; a face at least FACE_MIN_WIDTH of the frame's width in most of
   them is a person's likeness, which only its owner makes, verified, in the app (/cameos):
   422 `real_person` naming `video`. `create_character` then refuses a name that is a
   user's handle or names a public figure (400 `real_person` naming `name`).
4. The cameo: its handle made from the name (`handle_for`), the upload stored as its source
   (characters/<id>/source.<ext>), the row committed; a failed commit deletes the file.

The answer is OpenAI's {id, name, created_at} plus the cameo's `handle` (an @mention of it
casts it, as in the app). Listing and deleting are extensions beside OpenAI's routes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import av
import numpy as np
from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.models import Cameo, User
from reelforge.errors import MediaError
from reelforge.extras import require
from reelforge.media import ProbeInfo, probe
from reelforge.service.deps import StateDep, UserDep, run_db, upload_on_disk
from reelforge.service.errors import APIError
from reelforge.service.forms import read_form
from reelforge.service.v1_schemas import (
    CharacterCreate,
    CharacterDeleted,
    CharacterList,
    CharacterPublic,
    parse_body,
    request_body,
)
from reelforge.social import cameos as cameo_rules

router = APIRouter(prefix="/v1/videos/characters", tags=["characters"])

MAX_CHARACTER_SECONDS = 30.0
MAX_NAME_CHARS = 80
FACE_SAMPLES = 5  # frames looked at, spread evenly over the clip
SAMPLE_WIDTH = 320  # px: MTCNN finds a face of 8 % of this (26 px) in a few ms
# A face this wide (share of the frame's width) is a person filmed, not a figure in the
# background: the app's verification takes hold a face at about 26-34 % of the width.
FACE_MIN_WIDTH = 0.08
# A real video (issue 21: 19 of 21 still images were accepted as "videos"), by its headers
# and then its sampled frames.
MAX_CHARACTER_PIXELS = 3840 * 2160
MIN_CHARACTER_FRAMES = 8
MIN_CHARACTER_SECONDS = 1.0
STILL_MEAN_DIFF = 0.5  # grey levels (0..255): below it, two frames are the same picture
HANDLE_BASE_CHARS = 24  # room for a "_NN" suffix within the 30 a handle may have
# The container's format (as FFmpeg names it, [a-z0-9_]) → the stored source's extension
# and media type; another format keeps its name as the extension.
_FORMATS = {"mov": ("mp4", "video/mp4"), "matroska": ("webm", "video/webm")}


def character_public(cameo: Cameo) -> dict[str, Any]:
    return {
        "id": cameo.id,
        "name": cameo.display_name,
        "created_at": cameo.created_at,
        "handle": cameo.handle,  # beside OpenAI's fields: "@handle" in a prompt casts it
    }


def _not_found(character_id: str) -> APIError:
    return APIError(
        404, f"no character with id {character_id!r}", param="character_id", code="not_found"
    )


@router.post(
    "",
    response_model=CharacterPublic,
    openapi_extra=request_body(CharacterCreate, uploads=True),
)
async def create_character(request: Request, user: UserDep, service: StateDep) -> dict[str, Any]:
    name, upload = await _fields(request)
    character_id = f"char_{secrets.token_hex(12)}"
    async with upload_on_disk(upload) as path:
        extension, media_type = await run_in_threadpool(_check_video, path)
        key = f"characters/{character_id}/source.{extension}"
        await run_in_threadpool(service.storage.put_file, key, path, media_type)

    def work(db: Session) -> dict[str, Any]:
        owner = db.get(User, user.id)
        assert owner is not None  # the key's user
        cameo = _new_character(db, owner, name, character_id)
        cameo.take_key = key
        db.commit()
        return character_public(cameo)

    try:
        return await run_db(service, work)
    except Exception:
        await run_in_threadpool(service.storage.delete, key)  # nothing half-written
        raise


async def _fields(request: Request) -> tuple[str, UploadFile]:
    """Step 1: `name` and `video` from the multipart form."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise APIError(
            400, "send name and video as multipart/form-data", code="unsupported_content_type"
        )
    body = parse_body(CharacterCreate, dict((await read_form(request)).multi_items()))
    return body.name, body.video


def _check_video(path: Path) -> tuple[str, str]:
    """Steps 2 and 3 on the uploaded file; its extension and media type for storage."""
    try:
        info = probe(path)  # headers and packets, nothing decoded
    except MediaError:
        raise APIError(
            422, "video is not a readable video file", param="video", code="invalid_video"
        ) from None
    if info.duration_s > MAX_CHARACTER_SECONDS:
        raise APIError(
            400,
            f"video must be at most {MAX_CHARACTER_SECONDS:g} s, got {info.duration_s:.1f} s",
            param="video",
            code="invalid_video",
        )
    _check_is_a_real_video(info)
    try:
        frames, container_format = sample_frames(path, info.duration_s, FACE_SAMPLES)
    except MediaError:
        raise APIError(
            422, "video is not a readable video file", param="video", code="invalid_video"
        ) from None
    if all(_same_picture(frames[0], frame) for frame in frames[1:]):
        raise APIError(
            422,
            f"video shows one still picture ({len(frames)} frames looked at, all alike); "
            "a character is filmed: send a video in which it moves",
            param="video",
            code="invalid_video",
        )
    with_face = faces_seen(frames)
    if with_face * 2 > len(frames):
        raise APIError(
            422,
            f"video shows a person (a face in {with_face} of {len(frames)} frames looked at); "
            "a character cannot be a real person: a person's likeness is a cameo its owner "
            "verifies in the app (/cameos)",
            param="video",
            code="real_person",
        )
    return _FORMATS.get(container_format, (container_format, "application/octet-stream"))


def _check_is_a_real_video(info: ProbeInfo) -> None:
    """A video by its headers, before a frame is decoded: a picture of bounded size, at
    least MIN_CHARACTER_FRAMES frames over MIN_CHARACTER_SECONDS, and a sound track. A
    still image renamed .mp4 (a one-frame "video", the 30000x30000 bomb too) stops here."""
    problem = None
    if info.width * info.height > MAX_CHARACTER_PIXELS:
        problem = (
            f"is {info.width}x{info.height}; at most "
            f"{MAX_CHARACTER_PIXELS / 1e6:.1f} megapixels (4K UHD) are accepted"
        )
    elif info.frame_count < MIN_CHARACTER_FRAMES or info.duration_s < MIN_CHARACTER_SECONDS:
        problem = (
            f"has {info.frame_count} frames over {info.duration_s:.2f} s; a character video "
            f"has at least {MIN_CHARACTER_FRAMES} frames over {MIN_CHARACTER_SECONDS:g} s "
            "(a still image is not a video)"
        )
    elif info.audio_codec is None:
        problem = "has no sound track; a character video has one (its voice and sounds)"
    if problem is not None:
        raise APIError(422, f"video {problem}", param="video", code="invalid_video")


def _same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two sampled frames (same size, uint8) show the same picture, allowing for
    compression noise: the mean absolute difference is under STILL_MEAN_DIFF levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) < STILL_MEAN_DIFF


def sample_frames(path: Path, duration_s: float, count: int) -> tuple[list[np.ndarray], str]:
    """`count` frames spread evenly over the clip (the middle of each of `count` equal
    spans), each uint8 (H, W, 3) RGB at most SAMPLE_WIDTH wide, and the container's format
    name. Seeks to each, so a long clip costs a few GOPs' decoding, not all of it.
    MediaError when the file cannot be decoded."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise MediaError(f"{path} is not a readable video: {error}") from error
    try:
        video = container.streams.video[0]
        width, height = int(video.codec_context.width), int(video.codec_context.height)
        scale = min(1.0, SAMPLE_WIDTH / max(width, 1))
        # Even sizes: some swscale paths reject odd ones.
        out_w, out_h = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
        time_base = video.time_base
        if time_base is None:
            raise MediaError(f"{path} is not a readable video: its video stream has no time base")
        start_s = float(video.start_time * time_base) if video.start_time else 0.0
        frames = []
        for i in range(count):
            target_s = start_s + (i + 0.5) * duration_s / count
            frame = _frame_at(container, video, target_s, float(time_base))
            if frame is not None:
                frames.append(frame.to_ndarray(format="rgb24", width=out_w, height=out_h))
        if not frames:
            raise MediaError(f"{path} is not a readable video: no frame could be decoded")
        return frames, container.format.name.split(",")[0]
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{path} is not a readable video: {error}") from error
    finally:
        with suppress(Exception):
            container.close()


def _frame_at(container: Any, video: Any, target_s: float, time_base_s: float) -> Any:
    """The first frame at or after `target_s` (stream time), else the last one decoded."""
    container.seek(int(target_s / time_base_s), stream=video, backward=True)
    last = None
    for frame in _decoded(container, video):
        last = frame
        if frame.time is None or frame.time + 1e-3 >= target_s:
            return frame
    return last


def _decoded(container: Any, video: Any) -> Iterator[Any]:
    for packet in container.demux(video):
        yield from packet.decode()


def faces_seen(frames: list[np.ndarray]) -> int:
    """How many of `frames` hold a face at least FACE_MIN_WIDTH of the frame's width."""
    require("cameos", "checking a character's face")
    from reelforge.cameos.faces import detect_faces  # torch: imported on first use

    seen = 0
    for frame in frames:
        min_face_px = FACE_MIN_WIDTH * frame.shape[1]
        faces = detect_faces(frame, min_face_px=min_face_px)
        seen += any(face.width >= min_face_px for face in faces)
    return seen


def handle_for(name: str) -> str:
    """The handle a name gives before any suffix: lowercase, runs of anything but a-z, 0-9
    and _ made one _, at most HANDLE_BASE_CHARS, padded to the 3 a handle needs ("Ada
    Lovelace" → "ada_lovelace", "R2" → "r2_char", "水" → "character")."""
    base = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:HANDLE_BASE_CHARS]
    base = base.strip("_") or "character"
    return base if len(base) >= 3 else f"{base}_char"


def _free_handle(db: Session, name: str) -> str:
    """`handle_for(name)`, or with the first numeric suffix (_2, _3, ...) no cameo has,
    deleted ones included (their consent logs still name them)."""
    base = handle_for(name)
    taken = set(db.scalars(select(Cameo.handle).where(Cameo.handle.startswith(base))))
    handle, n = base, 1
    while handle in taken:
        n += 1
        handle = f"{base}_{n}"
    return handle


def _new_character(db: Session, owner: User, name: str, character_id: str) -> Cameo:
    """Step 4: the character cameo `character_id`, through the app's `create_character`
    (its checks and its consent log). Not committed."""
    for _attempt in range(3):
        handle = _free_handle(db, name)
        try:
            with db.begin_nested():
                return cameo_rules.create_character(db, owner, handle, name, character_id)
        except IntegrityError:  # another request took the handle a moment ago
            continue
        except APIError as error:
            if error.code == "handle_taken":  # committed by another request meanwhile
                continue
            if error.param in ("handle", "display_name"):  # both come from the name here
                message = error.message.split(": ", 1)[-1]
                raise APIError(
                    error.status, f"name: {message}", param="name", code=error.code
                ) from None
            raise
    raise APIError(
        409, f"name: no free handle for {name!r}; try again", param="name", code="handle_taken"
    )


@router.get("", response_model=CharacterList)
async def list_characters(user: UserDep, service: StateDep) -> dict[str, Any]:
    """The caller's cameos (characters and their own verified likeness), oldest first."""

    def work(db: Session) -> dict[str, Any]:
        mine = db.scalars(
            select(Cameo)
            .where(Cameo.owner_id == user.id, Cameo.deleted_at.is_(None))
            .order_by(Cameo.created_at, Cameo.id)
        )
        return {"object": "list", "data": [character_public(c) for c in mine]}

    return await run_db(service, work)


def own_cameo(db: Session, character_id: str, user_id: str) -> Cameo:
    """The caller's live cameo `character_id`; anyone else's is a 404 like an unknown id."""
    cameo = db.get(Cameo, character_id)
    if cameo is None or cameo.owner_id != user_id or cameo.deleted_at is not None:
        raise _not_found(character_id)
    return cameo


@router.get("/{character_id}", response_model=CharacterPublic)
async def get_character(character_id: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    return await run_db(service, lambda db: character_public(own_cameo(db, character_id, user.id)))


@router.delete("/{character_id}", response_model=CharacterDeleted)
async def delete_character(character_id: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    """Delete it as the app does: every video that shows it taken down, its grants revoked,
    its source deleted. Answers with the receipt."""

    def work(db: Session) -> dict[str, Any]:
        receipt = cameo_rules.delete_cameo(db, service, own_cameo(db, character_id, user.id))
        return {
            "id": character_id,
            "object": "character.deleted",
            "deleted": True,
            "receipt": receipt,
        }

    return await run_db(service, work)
