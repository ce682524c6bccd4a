"""Marking a clip before it is encoded: the one sequence the pipeline (and the overhead
benchmark) runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelforge.media import resample
from reelforge.provenance.audio_watermark import SAMPLE_RATE, AudioWatermarker
from reelforge.provenance.video_watermark import VideoWatermarker
from reelforge.provenance.visible import MovingMark, draw_visible_mark
from reelforge.types import Clip


@dataclass(frozen=True)
class Marks:
    audio: np.ndarray  # the clip's audio at SAMPLE_RATE (48 kHz), watermarked
    video: VideoWatermarker  # its `embed_luma` goes to encode_mp4's `luma` hook
    sample_rate: int = SAMPLE_RATE


def mark_clip(clip: Clip, payload: int, key: bytes, handle: str | None) -> Marks:
    """Put the visible mark for `handle` on `clip.frames` (None: no visible mark): drawn
    in place on an array, or attached to a FrameSource so each frame gets it as it is
    drawn (during encoding). Then watermark a 48 kHz copy of the audio and build the video
    watermarker."""
    if handle is not None:
        if isinstance(clip.frames, np.ndarray):
            draw_visible_mark(clip.frames, handle, fps=clip.fps)
        else:
            clip.frames.add_transform(MovingMark(handle, (clip.height, clip.width), fps=clip.fps))
    audio = resample(clip.audio, clip.sample_rate, SAMPLE_RATE)
    audio = AudioWatermarker(payload, key).embed(audio, SAMPLE_RATE)
    return Marks(audio, VideoWatermarker(payload, key, clip.width, clip.height))
