"""Reading a verification take: the frames the checks look at and the audio they listen to.

A take is whatever a browser's MediaRecorder or a phone writes (WebM with VP8/VP9 and Opus,
MP4 with H.264 and AAC, ...), 5 to 15 seconds long, with video and audio. The checks need
neither full resolution nor every frame: frames are kept at up to ANALYSIS_FPS (every k-th
decoded frame, by presentation time) and scaled so their width is at most ANALYSIS_WIDTH,
which keeps a 15 s 720p take at about 25 MB in memory; the audio is mixed to mono and
resampled to 16 kHz, the rate the speech recogniser's model was trained at.

Anything that is not such a take raises MediaError with param "take" (the HTTP layer
answers 422 naming the field).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from reelforge.errors import MediaError

ANALYSIS_FPS = 15.0
ANALYSIS_WIDTH = 320
AUDIO_RATE = 16_000
MIN_SECONDS = 5.0
MAX_SECONDS = 15.0
# A little slack either side: containers round durations, and recorders stop late.
_DURATION_SLACK_S = 0.5


@dataclass(frozen=True)
class Take:
    frames: np.ndarray  # uint8 (T, H, W, 3) RGB, W ≤ ANALYSIS_WIDTH
    times_s: np.ndarray  # float64 (T,), each kept frame's presentation time from 0
    audio: np.ndarray  # float32 (S,) mono at AUDIO_RATE, sample 0 = time 0
    source_size: tuple[int, int]  # (width, height) of the recorded video

    @property
    def duration_s(self) -> float:
        video_s = float(self.times_s[-1]) + 1.0 / ANALYSIS_FPS if len(self.times_s) else 0.0
        return max(video_s, self.audio.shape[0] / AUDIO_RATE)

    @property
    def fps(self) -> float:
        if len(self.times_s) < 2:
            return ANALYSIS_FPS
        return float((len(self.times_s) - 1) / (self.times_s[-1] - self.times_s[0]))


def read_take(path: Path) -> Take:
    """The take at `path`, or MediaError(param="take") saying why it cannot be one."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise _unreadable(f"{error}") from error
    try:
        if not container.streams.video:
            raise _unreadable("it has no video stream")
        if not container.streams.audio:
            raise _unreadable("it has no audio stream (the digits must be heard)")
        frames, times_s, source_size, audio = _decode(container)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise _unreadable(f"{error}") from error
    finally:
        with contextlib.suppress(Exception):
            container.close()
    take = Take(frames, times_s, audio, source_size)
    if not MIN_SECONDS - _DURATION_SLACK_S <= take.duration_s <= MAX_SECONDS + _DURATION_SLACK_S:
        raise MediaError(
            f"take must be {MIN_SECONDS:g} to {MAX_SECONDS:g} seconds long, "
            f"got {take.duration_s:.1f} s",
            param="take",
        )
    return take


def _unreadable(reason: str) -> MediaError:
    return MediaError(f"take is not a readable video with audio: {reason}", param="take")


def _decode(container: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, int], np.ndarray]:
    """One pass over both streams: (frames, their times, the source size, the audio)."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    sound = container.streams.audio[0]
    width, height = int(video.codec_context.width), int(video.codec_context.height)
    if width < 16 or height < 16:
        raise _unreadable(f"its video is {width}x{height}")
    scale = min(1.0, ANALYSIS_WIDTH / width)
    # Even sizes: some swscale paths reject odd ones.
    out_w, out_h = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    frames: list[np.ndarray] = []
    times: list[float] = []
    chunks: list[np.ndarray] = []
    first: float | None = None
    next_time = 0.0
    decoded = 0
    for packet in container.demux(video, sound):
        if packet.stream.type == "audio":
            for frame in packet.decode():
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            continue
        for frame in packet.decode():
            decoded += 1
            if frame.pts is not None and frame.time_base is not None:
                time_s = float(frame.pts * frame.time_base)
            else:
                time_s = decoded / float(video.average_rate or 30)
            if first is None:
                first = time_s
            time_s -= first
            if time_s + 1e-6 < next_time:
                continue
            next_time = time_s + 1.0 / ANALYSIS_FPS
            frames.append(frame.to_ndarray(format="rgb24", width=out_w, height=out_h))
            times.append(time_s)
    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    if not chunks:
        raise _unreadable("its audio stream holds no sound")
    audio = np.concatenate(chunks).astype(np.float32)
    if not frames:
        raise _unreadable("it has no decodable video frames")
    return np.stack(frames), np.asarray(times), (width, height), audio
