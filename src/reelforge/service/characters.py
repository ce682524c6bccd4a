"""/v1/videos/characters: a character (cameo) is a short video of a person, owned by the
user who uploaded it. Consent rules (who may use it) come with the social features."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.models import Character
from reelforge.errors import MediaError
from reelforge.media import probe
from reelforge.service.deps import StateDep, UserDep, run_db, upload_on_disk
from reelforge.service.errors import APIError

router = APIRouter(prefix="/v1/videos/characters", tags=["characters"])

MAX_CHARACTER_SECONDS = 30.0


def character_public(character: Character) -> dict[str, Any]:
    return {"id": character.id, "name": character.name, "created_at": character.created_at}


@router.post("")
async def create_character(request: Request, user: UserDep, service: StateDep) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise APIError(
            400, "send name and video as multipart/form-data", code="unsupported_content_type"
        )
    form = await request.form()
    name = form.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        raise APIError(400, "name must be 1..80 characters", param="name", code="invalid_value")
    upload = form.get("video")
    if not isinstance(upload, UploadFile):
        raise APIError(
            400,
            "video is required: a short video file of the character",
            param="video",
            code="invalid_value",
        )
    character_id = f"char_{secrets.token_hex(12)}"
    key = f"characters/{character_id}/source.mp4"
    async with upload_on_disk(upload) as path:
        try:
            info = await run_in_threadpool(probe, path)
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
        await run_in_threadpool(service.storage.put_file, key, path, "video/mp4")
    character = Character(id=character_id, user_id=user.id, name=name.strip(), video_key=key)

    def work(db: Session) -> dict[str, Any]:
        db.add(character)
        db.commit()
        return character_public(character)

    return await run_db(service, work)


@router.get("/{character_id}")
async def get_character(character_id: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    def work(db: Session) -> dict[str, Any]:
        character = db.get(Character, character_id)
        if character is None or character.user_id != user.id:
            raise APIError(
                404,
                f"no character with id {character_id!r}",
                param="character_id",
                code="not_found",
            )
        return character_public(character)

    return await run_db(service, work)
