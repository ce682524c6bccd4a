"""`reelforge verify FILE` and POST /v1/provenance/verify: what a video file says about
where it came from.

Three independent readings, then the registry:

1. C2PA: which container the file is; is there a manifest (WebM and Matroska cannot hold
   one; an MP4 may simply not have one: both are "no manifest", with the container named,
   never "INVALID"); is its signature valid, do the hashes still match the bytes (any
   change to the video or audio data breaks them, and so does cutting the file short),
   and is the signer trusted (this installation's root, plus
   REELFORGE_C2PA_TRUST_ANCHORS)? "INVALID" always says why, in plain words.
2. The invisible video watermark, read from the luma of up to MAX_SECONDS of frames, with
   a p-value under "no watermark with this installation's key".
3. The audio watermark, from up to MAX_SECONDS of the first audio track, likewise.

A payload found at p ≤ 1e-6 (or, failing that, the manifest's soft binding when the
manifest is valid) is looked up in the registry, which names the video it was made for:
so a clip re-encoded with its metadata stripped is still traced. A valid manifest's
consent assertion names the verified cameos the clip casts. Nothing is written.

A file whose media cannot be read to the end (cut short, corrupt) is an error, unless it
carries a manifest and some of its frames decode: then the manifest's verdict is the
answer (its hashes fail), and the marks are read from the frames and audio that do
decode; `media_problem` says so. Every
text in the report is printable: what the c2pa library and the file itself say is
cleaned in manifest.py, the file's name here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media import decode_audio, iter_luma, probe
from reelforge.provenance.audio_watermark import AudioDetection, detect_audio
from reelforge.provenance.identity import load_identity
from reelforge.provenance.manifest import (
    SNIFF_BYTES,
    ManifestReport,
    payload_hex,
    printable,
    read_manifest,
    sniff_container,
)
from reelforge.provenance.registry import Registry, RegistryEntry
from reelforge.provenance.video_watermark import VideoDetection, detect_video
from reelforge.settings import Settings

MAX_SECONDS = 60.0  # evidence beyond a minute adds nothing a detection needs
MAX_FILE_BYTES = 4 * 1024**3


@dataclass
class Verification:
    file: str
    size_bytes: int
    c2pa: ManifestReport
    video: VideoDetection | None
    audio: AudioDetection | None
    payload: str | None  # the traced payload (hex), from the marks or a valid manifest
    payload_source: str | None  # "video" | "audio" | "c2pa"
    record: RegistryEntry | None
    media_problem: str | None = None  # the media could not be read to the end (signed files)

    @property
    def summary(self) -> str:
        parts = []
        if self.c2pa.state == "Trusted":
            parts.append("C2PA manifest valid and signed by a trusted reelforge certificate")
        elif self.c2pa.state == "Valid":
            parts.append("C2PA manifest valid (signer not in the trust list)")
        elif self.c2pa.present:
            parts.append(f"C2PA manifest INVALID: {self.c2pa.reason or 'it failed validation'}")
        else:
            parts.append(f"no C2PA manifest ({self.c2pa.container} file)")
        marks = [
            name
            for name, found in (("video", self.video), ("audio", self.audio))
            if found is not None and found.detected
        ]
        parts.append(f"watermark found in {' and '.join(marks)}" if marks else "no watermark found")
        if self.record is not None:
            parts.append(f"made by reelforge as {self.record.video_id or 'a local clip'}")
        if self.c2pa.state in ("Valid", "Trusted") and self.c2pa.cameo_ids:
            handles = [f"@{c.get('handle')}" for c in (self.c2pa.consent or {})["cameos"]]
            parts.append(f"casts the cameo{'s' * (len(handles) > 1)} of {', '.join(handles)}")
        return "; ".join(parts)

    def public(self) -> dict[str, Any]:
        def detection(found: VideoDetection | AudioDetection | None) -> dict[str, Any] | None:
            if found is None:
                return None
            return {
                "detected": found.detected,
                "payload": payload_hex(found.payload) if found.detected else None,
                "p_value": found.p_value,
                "bit_accuracy": round(found.bit_accuracy, 4),
            }

        record = None
        if self.record is not None:
            record = {
                "video_id": self.record.video_id,
                "creator": self.record.creator,
                "engine": self.record.engine,
                "created_at": self.record.created_at,
                "parent_video_id": self.record.parent_video_id,
                "file_sha256": self.record.file_sha256,
            }
        return {
            "object": "provenance.verification",
            "file": self.file,
            "size_bytes": self.size_bytes,
            "container": self.c2pa.container,
            "summary": self.summary,
            "media_problem": self.media_problem,
            "c2pa": self.c2pa.public(),
            "watermark": {"video": detection(self.video), "audio": detection(self.audio)},
            "payload": self.payload,
            "payload_source": self.payload_source,
            "record": record,
            # The verified cameos a valid manifest's consent assertion names.
            "cameos": self.c2pa.cameo_ids if self.c2pa.state in ("Valid", "Trusted") else [],
        }


def verify_file(
    path: Path,
    settings: Settings,
    *,
    registry: Registry,
    max_bytes: int = MAX_FILE_BYTES,
    display_name: str | None = None,
) -> Verification:
    """Verify the video at `path`. InvalidRequest (param `file`) for a file too large,
    MediaError for one that is not a readable video and carries no manifest."""
    path = Path(path)
    if not path.is_file():
        raise InvalidRequest(f"file {str(path)!r} does not exist", param="file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidRequest(
            f"file is {size} bytes; at most {max_bytes} bytes can be verified", param="file"
        )
    identity = load_identity(settings)
    with path.open("rb") as stream:
        container = sniff_container(stream.read(SNIFF_BYTES))
        manifest = read_manifest(stream, identity.trust_anchors_pem, container)
    probe_error: MediaError | None = None
    try:
        fps = probe(path).fps  # MediaError: not a video, no video stream, cut short
    except MediaError as error:
        if not manifest.present:
            raise
        fps, probe_error = 0.0, error
    media_problem = None if probe_error is None else _media_problem(probe_error, path)

    frames_cap = max(1, round(MAX_SECONDS * (fps or 30.0)))
    frames = iter_luma(path, max_frames=frames_cap)
    if probe_error is not None:
        frames = _until_unreadable(frames)
    try:
        video = detect_video(frames, identity.watermark_key)
    except MediaError:
        if probe_error is None:
            raise
        raise probe_error from None  # not one frame decodes: still not a readable video
    audio = None
    try:
        samples, rate = decode_audio(path, max_seconds=MAX_SECONDS)
    except MediaError:
        if probe_error is None:
            raise
        samples, rate = np.zeros((0, 0), np.float32), 0
    if samples.size:
        audio = detect_audio(samples, rate, identity.watermark_key)

    payload, source = None, None
    for name, found in (("video", video), ("audio", audio)):
        if found is not None and found.detected:  # detected: p ≤ 1e-6
            payload, source = payload_hex(found.payload), name
            break
    if payload is None and manifest.state in ("Valid", "Trusted") and manifest.soft_binding:
        payload, source = manifest.soft_binding, "c2pa"
    record = registry.lookup(payload) if payload is not None else None
    return Verification(
        file=printable(display_name or str(path)),
        size_bytes=size,
        c2pa=manifest,
        video=video,
        audio=audio,
        payload=payload,
        payload_source=source,
        record=record,
        media_problem=media_problem,
    )


def _media_problem(error: MediaError, path: Path) -> str:
    """The media reader's complaint without the file's path (the report names the file)."""
    reason = str(error).removeprefix(f"{path} is not a readable video: ")
    return printable(
        f"the media cannot be read to the end ({reason}); the watermarks were read from what can be"
    )


def _until_unreadable(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The frames up to the first one that cannot be decoded."""
    try:
        yield from frames
    except MediaError:
        return


__all__ = ["Verification", "verify_file"]
