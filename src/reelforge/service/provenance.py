"""/v1/provenance/verify: upload a video, get back what its provenance says (C2PA
manifest, video and audio watermarks, the registry record). Nothing is stored.

Bounded before anything is decoded (issue 21: one 60 s 1080p upload cost 15.5 CPU-seconds):
the upload's size (413 naming `file`), then, from the container's headers, its duration and
picture size (422 naming `file`). A file whose headers cannot be read goes on to
`verify_file`, which still finds a manifest in it or says it is not a readable video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reelforge.errors import MediaError
from reelforge.media import probe
from reelforge.provenance.verify import verify_file
from reelforge.service.deps import StateDep, UserDep, upload_on_disk
from reelforge.service.errors import APIError
from reelforge.service.forms import read_form
from reelforge.service.v1_schemas import (
    VerificationPublic,
    VerifyUpload,
    parse_body,
    request_body,
)

router = APIRouter(prefix="/v1/provenance", tags=["provenance"])

MAX_VERIFY_BYTES = 200 * 1024 * 1024
MAX_VERIFY_SECONDS = 25.0  # the longest clip made here is 20 s
MAX_VERIFY_PIXELS = 1920 * 1080


@router.post(
    "/verify",
    response_model=VerificationPublic,
    openapi_extra=request_body(VerifyUpload, uploads=True),
)
async def verify(request: Request, user: UserDep, service: StateDep) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise APIError(
            400, "send the video as multipart/form-data field `file`", code="invalid_value"
        )
    upload = parse_body(VerifyUpload, dict((await read_form(request)).multi_items())).file
    name = Path(upload.filename or "upload").name
    if upload.size is not None and upload.size > MAX_VERIFY_BYTES:
        raise APIError(
            413,
            f"file is {upload.size} bytes; at most {MAX_VERIFY_BYTES} bytes can be verified",
            param="file",
            code="file_too_large",
        )
    async with upload_on_disk(upload) as path:
        await run_in_threadpool(_check_bounds, path)
        try:
            report = await run_in_threadpool(
                verify_file,
                path,
                service.settings,
                registry=service.registry,
                display_name=name,
            )
        except MediaError:
            raise APIError(
                422, "file is not a readable video", param="file", code="invalid_video"
            ) from None
    return report.public()


def _check_bounds(path: Path) -> None:
    """Duration and picture size by the container's headers (nothing decoded)."""
    try:
        info = probe(path)
    except MediaError:
        return  # not readable as a video: verify_file says what it is
    if info.duration_s > MAX_VERIFY_SECONDS:
        raise APIError(
            422,
            f"file is {info.duration_s:.1f} s long; at most {MAX_VERIFY_SECONDS:g} s can be "
            "verified (cut the part to check)",
            param="file",
            code="video_too_long",
        )
    if info.width * info.height > MAX_VERIFY_PIXELS:
        raise APIError(
            422,
            f"file is {info.width}x{info.height}; at most 1920x1080 pixels can be verified",
            param="file",
            code="video_too_large",
        )
