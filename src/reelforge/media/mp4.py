"""MP4 encoding, decoding and probing (H.264 + AAC) through PyAV.

Encoding converts RGB → I420 with OpenCV (BT.601 limited range, about 1 ms per 720p frame)
instead of letting swscale do it (about 5 ms per frame), and tags the stream accordingly
(smpte170m primaries / transfer / matrix, tv range). Decoding uses the inverse OpenCV
conversion for such streams.

Timing: video frame i has pts i in a 1/fps time base; audio is padded or trimmed to exactly
T / fps seconds and fed to the AAC encoder in 1024-sample frames with explicit pts. FFmpeg's
native AAC encoder primes 1024 samples (its first packet has pts -1024); the MP4 muxer writes
an edit list that hides them and libavformat's demuxer drops them again on decode (skip
samples), so decoded audio sample n is input sample n. The decoder still returns the whole
last AAC frame, so `decode_mp4` trims the audio to the stream's duration.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

from reelforge.errors import MediaError
from reelforge.media.resampling import resample
from reelforge.types import FrameSource

OUTPUT_SAMPLE_RATE = 48_000
AAC_FRAME_SAMPLES = 1024
MAX_PROGRESS_CALLS = 100

# Colour matrices whose YUV→RGB conversion is the BT.601 one OpenCV's I420 routines use.
_BT601_SPACES = {
    int(Colorspace.ITU601),  # bt470bg
    int(Colorspace.SMPTE170M),
    2,  # AVCOL_SPC_UNSPECIFIED: FFmpeg's own default for SD/untagged is BT.601 as well
}


# ---------------------------------------------------------------------------------------
# Encoding


def encode_mp4(
    path: Path,
    frames: np.ndarray | FrameSource,
    audio: np.ndarray,
    fps: int,
    sample_rate: int = OUTPUT_SAMPLE_RATE,
    *,
    crf: int = 18,
    preset: str = "veryfast",
    audio_bitrate: int = 192_000,
    progress: Callable[[float], None] | None = None,
    luma: Callable[[np.ndarray], None] | None = None,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> None:
    """Write `frames` and `audio` to `path` as MP4 (H.264 yuv420p + AAC-LC 48 kHz stereo).

    frames: uint8 (T, H, W, 3) RGB, H and W even: an array, or a FrameSource whose frames
    are drawn one at a time as they are encoded (into one reused buffer), so the clip is
    never held whole. audio: float32 (C, S), C in {1, 2}, values
    in [-1, 1] at `sample_rate` (resampled to 48 kHz if different; mono is duplicated). The
    audio is padded with silence or trimmed to exactly T / fps seconds. `progress(fraction)`
    is called at most ~100 times while frames are encoded, the last time with 1.0 once the
    file is complete; an exception it raises (e.g. Cancelled) aborts the encode and
    propagates. `luma(y_plane)`, if given, may change each frame's (H, W) uint8 luma plane in
    place after the RGB → I420 conversion (the invisible watermark goes in there: no extra
    colour conversion, no copy). `on_frame(index, rgb)`, if given, sees each (H, W, 3) RGB
    frame before it is converted, and must copy what it keeps (the job worker's thumbnail
    and spritesheet are taken this way). Raises MediaError for unusable input or a failed encode; a
    partly written file may be left at `path` (the caller owns it).

    Deterministic: the same input and settings give a byte-identical file on the same
    machine. libx264's thread count (auto: 1.5 × CPU cores) changes the bitstream, so
    machines with different core counts produce different (equally valid) files.
    """
    frames = _check_frames(frames)
    if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
        raise MediaError(f"fps must be a positive integer, got {fps!r}")
    stereo = _prepare_audio(audio, sample_rate, frames.shape[0], fps)
    count, height, width = (int(n) for n in frames.shape[:3])

    try:
        container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"cannot write video to {path}: {error}") from error
    try:
        video = container.add_stream(
            "libx264", rate=fps, options={"crf": str(crf), "preset": preset}
        )
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, fps)
        video.codec_context.time_base = Fraction(1, fps)
        video.codec_context.thread_type = "FRAME"
        video.codec_context.color_range = int(ColorRange.MPEG)
        video.codec_context.colorspace = int(Colorspace.SMPTE170M)
        video.codec_context.color_primaries = int(ColorPrimaries.SMPTE170M)
        video.codec_context.color_trc = int(ColorTrc.SMPTE170M)

        sound = container.add_stream("aac", rate=OUTPUT_SAMPLE_RATE, layout="stereo")
        sound.bit_rate = audio_bitrate
        sound.time_base = Fraction(1, OUTPUT_SAMPLE_RATE)
        sound.codec_context.time_base = Fraction(1, OUTPUT_SAMPLE_RATE)

        total_samples = stereo.shape[1]
        audio_cursor = 0
        step = max(1, math.ceil(count / MAX_PROGRESS_CALLS))
        for index, rgb in enumerate(_in_order(frames)):
            if on_frame is not None:
                on_frame(index, rgb)
            yuv: np.ndarray = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
            if luma is not None:
                luma(yuv[:height])
            frame = av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")  # no copy
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            frame.color_range = int(ColorRange.MPEG)
            frame.colorspace = int(Colorspace.SMPTE170M)
            for packet in video.encode(frame):
                container.mux(packet)
            # Keep audio up with video so the muxer interleaves without buffering it all.
            audio_until = (index + 1) * total_samples // count
            while audio_cursor < audio_until:
                _encode_audio_frame(container, sound, stereo, audio_cursor)
                audio_cursor += AAC_FRAME_SAMPLES
            if progress is not None and (index + 1) % step == 0 and index + 1 < count:
                progress((index + 1) / count)
        for packet in video.encode(None):
            container.mux(packet)
        while audio_cursor < total_samples:
            _encode_audio_frame(container, sound, stereo, audio_cursor)
            audio_cursor += AAC_FRAME_SAMPLES
        for packet in sound.encode(None):
            container.mux(packet)
        container.close()
    except (av.FFmpegError, OSError, ValueError) as error:
        _close_quietly(container)
        raise MediaError(f"encoding {path} failed: {error}") from error
    except BaseException:  # e.g. Cancelled raised by `progress`: free the encoder, re-raise
        _close_quietly(container)
        raise
    if progress is not None:
        progress(1.0)


def _encode_audio_frame(container: Any, stream: Any, stereo: np.ndarray, start: int) -> None:
    chunk = np.ascontiguousarray(stereo[:, start : start + AAC_FRAME_SAMPLES])
    frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
    frame.sample_rate = OUTPUT_SAMPLE_RATE
    frame.pts = start
    frame.time_base = Fraction(1, OUTPUT_SAMPLE_RATE)
    for packet in stream.encode(frame):
        container.mux(packet)


def _in_order(frames: np.ndarray | FrameSource) -> Iterator[np.ndarray]:
    """Each frame in turn: views of an array; a FrameSource's drawn into one buffer (each
    is valid until the next is asked for)."""
    if isinstance(frames, np.ndarray):
        yield from frames
        return
    buffer = np.empty(frames.shape[1:], np.uint8)
    for index in range(len(frames)):
        yield frames.frame(index, out=buffer)


def _check_frames(frames: np.ndarray | FrameSource) -> np.ndarray | FrameSource:
    if not isinstance(frames, np.ndarray | FrameSource) or frames.ndim != 4 or frames.shape[3] != 3:
        shape = getattr(frames, "shape", None)
        raise MediaError(f"frames must be a (T, H, W, 3) array, got shape {shape}")
    if frames.dtype != np.uint8:
        raise MediaError(f"frames must be uint8, got {frames.dtype}")
    count, height, width = frames.shape[:3]
    if count < 1:
        raise MediaError("frames must hold at least one frame, got 0")
    if height < 2 or width < 2 or height % 2 or width % 2:
        raise MediaError(f"frame size must be even for yuv420p, got {width}x{height}")
    return frames


def _prepare_audio(audio: np.ndarray, sample_rate: int, count: int, fps: int) -> np.ndarray:
    """(C, S) float at `sample_rate` → float32 (2, T/fps × 48 kHz) in [-1, 1]."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise MediaError(f"audio must be a (C, S) array with C in 1..2, got shape {audio.shape}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise MediaError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    audio = np.nan_to_num(audio.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
    if audio.shape[1] > 0:
        audio = resample(audio, sample_rate, OUTPUT_SAMPLE_RATE)
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    # Exactly T / fps seconds: for the supported rates this is a whole number of samples.
    target = round(count * OUTPUT_SAMPLE_RATE / fps)
    out = np.zeros((2, target), dtype=np.float32)
    keep = min(target, audio.shape[1])
    out[:, :keep] = audio[:, :keep]
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _close_quietly(container: Any) -> None:
    with contextlib.suppress(Exception):  # already failing; report the first error
        container.close()


# ---------------------------------------------------------------------------------------
# Decoding and probing


@dataclass(frozen=True)
class Decoded:
    """Decoded content of a video file."""

    frames: np.ndarray  # uint8 (T, H, W, 3) RGB
    audio: np.ndarray  # float32 (C, S), sample 0 = time 0; (0, 0) when absent or not asked
    fps: float
    sample_rate: int


@dataclass(frozen=True)
class ProbeInfo:
    """What a video file holds, from its headers (checked against its packets)."""

    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    sample_rate: int | None
    channels: int | None
    pix_fmt: str


def _open(path: Path) -> Any:
    if not Path(path).exists():
        raise MediaError(f"{path} is not a readable video: no such file")
    if not Path(path).is_file():
        raise MediaError(f"{path} is not a readable video: not a regular file")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise MediaError(f"{path} is not a readable video: {_reason(error)}") from error
    if not container.streams.video:
        _close_quietly(container)
        raise MediaError(f"{path} is not a readable video: it has no video stream")
    return container


def _reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "unexpected end of file (truncated?)"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text)


def _stream_fps(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def probe(path: Path) -> ProbeInfo:
    """Describe the video file at `path`.

    Reads the headers, then walks the packets (without decoding) so that a truncated file is
    reported rather than described. Raises MediaError("<path> is not a readable video: ...")
    for a missing, corrupt, truncated or non-video file.
    """
    container = _open(path)
    try:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        declared = int(video.frames or 0)
        packets = 0
        for packet in container.demux():  # every stream: a cut can land in audio data too
            if packet.size == 0:
                continue
            if packet.is_corrupt:
                raise MediaError(f"{path} is not a readable video: it is truncated or corrupt")
            if packet.stream.index == video.index:
                packets += 1
        if packets == 0 or (declared and packets < declared):
            raise MediaError(
                f"{path} is not a readable video: it is truncated "
                f"({packets} of {declared or '?'} video frames present)"
            )
        fps = _stream_fps(video)
        if video.duration is not None and video.time_base is not None:
            duration_s = float(video.duration * video.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = packets / fps if fps else 0.0
        ctx = video.codec_context
        return ProbeInfo(
            video_codec=ctx.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            width=int(ctx.width),
            height=int(ctx.height),
            fps=fps,
            duration_s=duration_s,
            frame_count=declared or packets,
            sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
            channels=int(audio.codec_context.channels) if audio is not None else None,
            pix_fmt=ctx.format.name if ctx.format is not None else "unknown",
        )
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{path} is not a readable video: {_reason(error)}") from error
    finally:
        _close_quietly(container)


def decode_mp4(path: Path, *, max_frames: int | None = None, with_audio: bool = True) -> Decoded:
    """Decode a video file to RGB frames and float32 audio.

    Frames come in presentation order (frame k of the encode is frames[k]). Audio sample 0
    is time 0 (encoder priming already removed by the demuxer) and the audio is trimmed to
    the stream's duration, or to the span of the returned frames when `max_frames` cuts the
    video short. Raises MediaError for a missing, corrupt, truncated or non-video file.
    """
    if max_frames is not None and max_frames < 1:
        raise MediaError(f"max_frames must be ≥ 1, got {max_frames}")
    container = _open(path)
    try:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        fps = _stream_fps(video)
        has_audio = with_audio and bool(container.streams.audio)
        audio_stream = container.streams.audio[0] if has_audio else None
        streams = [video] if audio_stream is None else [video, audio_stream]

        declared = int(video.frames or 0)
        images = _FrameSink(declared if max_frames is None else min(declared, max_frames))
        audio_chunks: list[np.ndarray] = []
        audio_start: float | None = None
        sample_rate = (
            int(audio_stream.codec_context.sample_rate) if audio_stream else OUTPUT_SAMPLE_RATE
        )
        # Read everything needed from the streams now: they are freed when the file closes.
        channels = int(audio_stream.codec_context.channels or 1) if audio_stream else 0
        audio_end_s: float | None = None
        if (
            audio_stream is not None
            and audio_stream.duration is not None
            and audio_stream.time_base is not None
        ):
            start = audio_stream.start_time or 0
            audio_end_s = float((start + audio_stream.duration) * audio_stream.time_base)
        resampler: av.AudioResampler | None = None
        video_done = False
        audio_needed = math.inf
        decoded_samples = 0

        for packet in container.demux(*streams):
            if packet.is_corrupt and packet.size:
                raise MediaError(f"{path} is not a readable video: it is truncated or corrupt")
            if packet.stream.type == "video":
                if video_done:
                    continue
                for frame in packet.decode():
                    images.add(frame)
                    if max_frames is not None and images.count >= max_frames:
                        video_done = True
                        break
                if video_done and max_frames is not None and fps:
                    audio_needed = max_frames / fps * sample_rate
            else:
                for aframe in packet.decode():
                    if audio_start is None:
                        audio_start = (
                            float(aframe.pts * aframe.time_base)
                            if aframe.pts is not None and aframe.time_base is not None
                            else 0.0
                        )
                    chunk, resampler = _audio_to_array(aframe, resampler)
                    audio_chunks.append(chunk)
                    decoded_samples += chunk.shape[1]
            # PyAV ends each stream with an empty packet, whose decode() flushes the decoder.
            if video_done and (audio_stream is None or decoded_samples >= audio_needed + 2048):
                break
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{path} is not a readable video: {_reason(error)}") from error
    finally:
        _close_quietly(container)

    if images.count == 0 or images.count < images.capacity:
        raise MediaError(
            f"{path} is not a readable video: it is truncated "
            f"({images.count} of {declared or '?'} video frames decoded)"
        )
    frames = images.array()

    if audio_stream is None:
        return Decoded(frames, np.zeros((0, 0), np.float32), fps, sample_rate)
    samples = (
        np.concatenate(audio_chunks, axis=1)
        if audio_chunks
        else np.zeros((channels, 0), np.float32)
    )
    # Place the first decoded sample at its own time (0 for our files).
    offset = round((audio_start or 0.0) * sample_rate)
    if offset > 0:
        samples = np.concatenate([np.zeros((samples.shape[0], offset), np.float32), samples], 1)
    elif offset < 0:
        samples = samples[:, -offset:]
    if max_frames is not None and fps and frames.shape[0] == max_frames:
        end = round(max_frames / fps * sample_rate)
    elif audio_end_s is not None:
        end = round(audio_end_s * sample_rate)
    else:
        end = samples.shape[1]
    samples = samples[:, :end]
    if samples.shape[1] < end:
        samples = np.pad(samples, ((0, 0), (0, end - samples.shape[1])))
    return Decoded(frames, np.ascontiguousarray(samples, dtype=np.float32), fps, sample_rate)


class _FrameSink:
    """Collects decoded frames as RGB, straight into one preallocated array when the
    frame count is known (no second copy for np.stack), else into a list."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self._block: np.ndarray | None = None
        self._extra: list[np.ndarray] = []

    def add(self, frame: av.VideoFrame) -> None:
        if self._block is None and self.capacity > 0:
            shape = (self.capacity, frame.height, frame.width, 3)
            self._block = np.empty(shape, np.uint8)
        block = self._block
        if (
            block is not None
            and self.count < block.shape[0]
            and block.shape[1:3]
            == (
                frame.height,
                frame.width,
            )
        ):
            _to_rgb(frame, block[self.count])
        else:
            self._extra.append(_to_rgb(frame))
        self.count += 1

    def array(self) -> np.ndarray:
        block = self._block[: self.count] if self._block is not None else None
        if not self._extra:
            assert block is not None
            return block
        parts = ([] if block is None else list(block)) + self._extra
        return np.stack(parts)


def _to_rgb(frame: av.VideoFrame, out: np.ndarray | None = None) -> np.ndarray:
    """A decoded frame → uint8 (H, W, 3) RGB; OpenCV for BT.601 tv-range I420, else swscale."""
    if (
        frame.format.name == "yuv420p"
        and frame.color_range != int(ColorRange.JPEG)
        and frame.colorspace in _BT601_SPACES
        and frame.width % 2 == 0
        and frame.height % 2 == 0
    ):
        if out is None:
            return np.asarray(cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420))
        cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420, dst=out)
        return out
    rgb = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    if out is None:
        return rgb
    out[...] = rgb
    return out


def _audio_to_array(
    frame: av.AudioFrame, resampler: av.AudioResampler | None
) -> tuple[np.ndarray, av.AudioResampler | None]:
    """A decoded audio frame → float32 (C, n), converting the sample format if needed."""
    if frame.format.name == "fltp":
        return frame.to_ndarray().astype(np.float32, copy=False), resampler
    if resampler is None:
        resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=frame.sample_rate)
    parts = [out.to_ndarray() for out in resampler.resample(frame)]
    if not parts:
        return np.zeros((len(frame.layout.channels), 0), np.float32), resampler
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False), resampler


# ---------------------------------------------------------------------------------------
# Streaming reads (verification of files of any size, without holding every frame)


def iter_luma(path: Path, *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """The luma (Y) plane of each video frame as uint8 (H, W), in order, one at a time.
    Raises MediaError for an unreadable, corrupt or truncated file (possibly after some
    frames were yielded)."""
    container = _open(path)
    try:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        count = 0
        for packet in container.demux(video):
            if packet.is_corrupt and packet.size:
                raise MediaError(f"{path} is not a readable video: it is truncated or corrupt")
            for frame in packet.decode():
                if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p"):
                    frame = frame.reformat(format="yuv420p")
                plane = frame.planes[0]
                rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                yield rows[:, : plane.width].copy()
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
        if count == 0:
            raise MediaError(f"{path} is not a readable video: no frame could be decoded")
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{path} is not a readable video: {_reason(error)}") from error
    finally:
        _close_quietly(container)


def decode_audio(path: Path, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream as float32 (C, S) and its sample rate; (C=0) if there is none.
    Sample 0 is the stream's own start (encoder priming removed by the demuxer)."""
    container = _open(path)
    try:
        if not container.streams.audio:
            return np.zeros((0, 0), np.float32), OUTPUT_SAMPLE_RATE
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or OUTPUT_SAMPLE_RATE)
        limit = math.inf if max_seconds is None else max_seconds * rate
        chunks: list[np.ndarray] = []
        total = 0
        resampler: av.AudioResampler | None = None
        for packet in container.demux(stream):
            for frame in packet.decode():
                chunk, resampler = _audio_to_array(frame, resampler)
                chunks.append(chunk)
                total += chunk.shape[1]
            if total >= limit:
                break
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{path} is not a readable video: {_reason(error)}") from error
    finally:
        _close_quietly(container)
    if not chunks:
        return np.zeros((1, 0), np.float32), rate
    audio = np.concatenate(chunks, axis=1)
    if max_seconds is not None:
        audio = audio[:, : round(max_seconds * rate)]
    return np.ascontiguousarray(audio, dtype=np.float32), rate
