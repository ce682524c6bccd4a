"""/v1/provenance/verify: upload a video, get back what its provenance says (C2PA
manifest, video and audio watermarks, the registry record). Nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.errors import MediaError
from reelforge.provenance.registry import DatabaseRegistry
from reelforge.provenance.verify import verify_file
from reelforge.service.deps import StateDep, UserDep, upload_on_disk
from reelforge.service.errors import APIError

router = APIRouter(prefix="/v1/provenance", tags=["provenance"])


@router.post("/verify")
async def verify(request: Request, user: UserDep, service: StateDep) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise APIError(
            400, "send the video as multipart/form-data field `file`", code="invalid_value"
        )
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise APIError(400, "file is required: the video to verify", param="file")
    name = Path(upload.filename or "upload").name
    async with upload_on_disk(upload) as path:
        try:
            report = await run_in_threadpool(
                verify_file,
                path,
                service.settings,
                registry=DatabaseRegistry(service.factory),
                display_name=name,
            )
        except MediaError:
            raise APIError(
                422, "file is not a readable video", param="file", code="invalid_video"
            ) from None
    return report.public()
