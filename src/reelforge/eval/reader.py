"""Read a clip for evaluation: frames at reduced size, audio at full rate.

The detectors work on frames downscaled by `scale` (2 by default: 360x640 for a 720x1280
clip), which is enough to find and track objects and measure mouths, and keeps a 10 s clip
within the evaluation budget. Only the decoded MP4 is read, never an engine's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from reelforge.errors import MediaError


@dataclass(frozen=True)
class Reading:
    frames: np.ndarray  # uint8 (T, h, w, 3) RGB at 1/scale
    audio: np.ndarray  # float32 (C, S); sample 0 is time 0
    fps: float
    sample_rate: int
    width: int  # of the original video
    height: int
    scale: int

    @property
    def frame_count(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


def read_clip(path: Path, *, scale: int = 2) -> Reading:
    """Decode `path` once: every frame downscaled by `scale`, and all of its audio."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path} is not a readable video: {exc}") from None
    try:
        if not container.streams.video:
            raise MediaError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = float(stream.average_rate or stream.guessed_rate or 24)
        small = (width // scale, height // scale)
        expected = stream.frames or 0
        frames: list[np.ndarray] = []
        store = np.empty((expected, small[1], small[0], 3), np.uint8) if expected else None
        for frame in container.decode(stream):
            if frame.format.name == "yuv420p":
                yuv = frame.to_ndarray()  # (H * 3/2, W) planar I420
                rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
            else:
                rgb = frame.to_ndarray(format="rgb24")
            index = len(frames)
            if store is not None and index < expected:
                frames.append(
                    cv2.resize(rgb, small, dst=store[index], interpolation=cv2.INTER_AREA)
                )
            else:
                frames.append(cv2.resize(rgb, small, interpolation=cv2.INTER_AREA))
    except av.FFmpegError as exc:
        raise MediaError(f"{path} could not be decoded: {exc}") from None
    finally:
        container.close()
    if not frames:
        raise MediaError(f"{path} has no video frames")
    audio, sample_rate = _read_audio(path, len(frames) / fps)
    # Decoded straight into place when the container knew its frame count.
    stacked = store if store is not None and len(frames) == expected else np.stack(frames)
    return Reading(stacked, audio, fps, sample_rate, width, height, scale)


def _read_audio(path: Path, duration_s: float) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros((1, 0), np.float32), 48_000
        stream = container.streams.audio[0]
        sample_rate = int(stream.codec_context.sample_rate)
        chunks: list[np.ndarray] = []
        first_pts: float | None = None
        for frame in container.decode(stream):
            if first_pts is None and frame.pts is not None and frame.time_base is not None:
                first_pts = float(frame.pts * frame.time_base)
            data = frame.to_ndarray()
            if frame.format.is_planar:
                chunks.append(data.astype(np.float32))
            else:  # interleaved (1, S * C)
                chunks.append(data.reshape(-1, frame.layout.nb_channels).T.astype(np.float32))
    if not chunks:
        return np.zeros((1, 0), np.float32), sample_rate
    audio = np.concatenate(chunks, axis=1)
    # The first decoded sample belongs at its own timestamp (after AAC priming is skipped).
    offset = round((first_pts or 0.0) * sample_rate)
    if offset > 0:
        audio = np.concatenate([np.zeros((audio.shape[0], offset), np.float32), audio], axis=1)
    return audio[:, : round(duration_s * sample_rate)], sample_rate
