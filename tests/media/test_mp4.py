"""Real encodes and decodes of small clips (no mocks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import MediaError
from reelforge.media import decode_mp4, encode_mp4, probe
from reelforge.types import FrameSource

FPS = 24
SR = 48_000
W, H = 256, 448  # width x height, a training size


def _frames(count: int, width: int = W, height: int = H) -> np.ndarray:
    """A gradient with a moving square; frame i carries its index in a corner block."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack(
        [xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)], axis=-1
    ).astype(np.uint8)
    frames = np.repeat(base[None], count, axis=0)
    for i in range(count):
        x = (10 + 7 * i) % (width - 40)
        frames[i, 100:140, x : x + 40] = (240, 30, 30)
        frames[i, :32, :64] = (i * 10) % 256  # frame-index stamp, flat gray
    return frames


def _silence(count: int, fps: int = FPS, channels: int = 2) -> np.ndarray:
    return np.zeros((channels, count * SR // fps), np.float32)


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def _onsets(signal: np.ndarray, threshold: float = 0.25, gap: int = 4_800) -> list[int]:
    """First sample of each burst that crosses `threshold` (bursts ≥ `gap` apart)."""
    above = np.flatnonzero(np.abs(signal) > threshold)
    found: list[int] = []
    for index in above:
        if not found or index - found[-1] > gap:
            found.append(int(index))
    return found


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    frames = _frames(48)
    audio = _silence(48)
    audio[:, int(0.5 * SR)] = 0.9
    audio[:, int(1.25 * SR)] = -0.9
    path = tmp_path_factory.mktemp("mp4") / ".clip.mp4.tmp-123"  # odd name: format must be set
    encode_mp4(path, frames, audio, FPS)
    return path, frames, audio


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe CLI not installed")
def test_ffprobe_sees_h264_aac_with_requested_shape(clip):
    path, frames, _ = clip
    info = _ffprobe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264"
    assert video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (W, H)
    assert Fraction(video["r_frame_rate"]) == FPS
    assert int(video["nb_frames"]) == len(frames)
    assert video.get("color_range") == "tv"
    assert video.get("color_space") in ("smpte170m", "bt470bg")
    assert abs(float(video["duration"]) - len(frames) / FPS) <= 1 / FPS
    assert abs(float(info["format"]["duration"]) - len(frames) / FPS) <= 1 / FPS
    assert audio["codec_name"] == "aac"
    assert audio.get("profile") == "LC"
    assert int(audio["sample_rate"]) == 48_000
    assert audio["channels"] == 2
    assert abs(float(audio["duration"]) - len(frames) / FPS) <= 1 / FPS


def test_faststart_puts_moov_before_mdat(clip):
    data = clip[0].read_bytes()
    boxes: list[str] = []
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_probe_reports_the_stream(clip):
    path, frames, _ = clip
    info = probe(path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.pix_fmt) == (W, H, "yuv420p")
    assert info.fps == FPS
    assert info.frame_count == len(frames)
    assert info.duration_s == pytest.approx(len(frames) / FPS, abs=1 / FPS)
    assert (info.sample_rate, info.channels) == (48_000, 2)


def test_clicks_stay_in_sync(clip):
    path, frames, _ = clip
    decoded = decode_mp4(path)
    assert decoded.sample_rate == 48_000
    assert decoded.audio.dtype == np.float32
    assert decoded.audio.shape == (2, len(frames) * SR // FPS)  # exactly T / fps
    onsets = _onsets(decoded.audio[0])
    assert len(onsets) == 2
    for found, expected in zip(onsets, (int(0.5 * SR), int(1.25 * SR)), strict=True):
        assert abs(found - expected) <= 48, (found, expected)


def test_mono_input_is_duplicated_and_in_sync(tmp_path):
    count = 36
    audio = np.zeros((1, count * SR // FPS), np.float32)
    audio[0, 30_000] = 0.9
    path = tmp_path / "mono.mp4"
    encode_mp4(path, _frames(count), audio, FPS)
    decoded = decode_mp4(path)
    assert decoded.audio.shape == (2, count * SR // FPS)
    for channel in decoded.audio:
        (onset,) = _onsets(channel)
        assert abs(onset - 30_000) <= 48


def test_audio_is_padded_or_trimmed_to_video_length(tmp_path):
    count = 30
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    encode_mp4(short, _frames(count), np.full((2, 1000), 0.1, np.float32), FPS)
    encode_mp4(long, _frames(count), np.full((2, 5 * SR), 0.1, np.float32), FPS)
    for path in (short, long):
        decoded = decode_mp4(path)
        assert decoded.audio.shape[1] == count * SR // FPS
        assert probe(path).duration_s == pytest.approx(count / FPS, abs=1 / FPS)


def test_frames_decode_in_order_and_count(clip):
    path, frames, _ = clip
    decoded = decode_mp4(path)
    assert decoded.fps == FPS
    assert decoded.frames.shape == frames.shape
    assert decoded.frames.dtype == np.uint8
    stamps = decoded.frames[:, 8:24, 8:56].reshape(len(frames), -1).mean(axis=1)
    expected = (np.arange(len(frames)) * 10) % 256
    assert np.all(np.abs(stamps - expected) <= 3), np.c_[stamps, expected]
    assert np.abs(decoded.frames.astype(int) - frames).mean() < 3


def test_max_frames_and_without_audio(clip):
    path, frames, _ = clip
    decoded = decode_mp4(path, max_frames=10)
    assert decoded.frames.shape[0] == 10
    assert decoded.audio.shape == (2, 10 * SR // FPS)
    silent = decode_mp4(path, with_audio=False)
    assert silent.frames.shape[0] == len(frames)
    assert silent.audio.size == 0


def test_flat_colours_survive(tmp_path):
    colours = [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (128, 128, 128),
        (20, 20, 20),
        (250, 250, 250),
    ]
    frames = np.zeros((len(colours), 128, 160, 3), np.uint8)
    for i, colour in enumerate(colours):
        frames[i] = colour
    path = tmp_path / "flat.mp4"
    encode_mp4(path, frames, _silence(len(colours)), FPS)
    decoded = decode_mp4(path)
    for i, colour in enumerate(colours):
        centre = decoded.frames[i, 16:-16, 16:-16].reshape(-1, 3).astype(int)
        assert np.abs(centre - colour).max() <= 6, (colour, centre.mean(axis=0))


def test_patches_survive_within_one_frame(tmp_path):
    frames = np.zeros((2, 128, 256, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
    for j, colour in enumerate(colours):
        frames[:, :, j * 64 : (j + 1) * 64] = colour
    path = tmp_path / "patches.mp4"
    encode_mp4(path, frames, _silence(2), FPS)
    decoded = decode_mp4(path)
    for j, colour in enumerate(colours):
        inner = decoded.frames[:, 16:-16, j * 64 + 8 : (j + 1) * 64 - 8].reshape(-1, 3)
        assert np.abs(inner.astype(int) - colour).max() <= 6, (colour, inner.mean(axis=0))


def test_encoding_is_deterministic(tmp_path):
    frames = _frames(24)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (2, SR)).astype(np.float32)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode_mp4(first, frames, audio, FPS)
    encode_mp4(second, frames, audio, FPS)
    assert first.read_bytes() == second.read_bytes()


def test_a_frame_source_is_pulled_one_frame_at_a_time_into_the_same_file(tmp_path):
    """A FrameSource gives the same bytes as the array it stands for, each frame drawn
    once, in order, and the array is never built; `on_frame` sees every frame."""
    frames = _frames(24)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (2, SR)).astype(np.float32)
    drawn: list[int] = []

    def render(index: int, out: np.ndarray) -> None:
        drawn.append(index)
        out[...] = frames[index]

    source = FrameSource(24, H, W, render)
    seen: list[tuple[int, int]] = []
    encode_mp4(tmp_path / "array.mp4", frames, audio, FPS)
    encode_mp4(
        tmp_path / "source.mp4",
        source,
        audio,
        FPS,
        on_frame=lambda index, rgb: seen.append((index, int(rgb[0, 0, 0]))),
    )
    assert (tmp_path / "source.mp4").read_bytes() == (tmp_path / "array.mp4").read_bytes()
    assert drawn == list(range(24)) and not source.held
    assert seen == [(i, (i * 10) % 256) for i in range(24)]


def test_progress_is_reported_up_to_one(tmp_path):
    calls: list[float] = []
    encode_mp4(tmp_path / "p.mp4", _frames(12, 64, 64), _silence(12), 12, progress=calls.append)
    assert calls == sorted(calls)
    assert calls[-1] == 1.0
    assert 1 < len(calls) <= 101


def test_other_sample_rate_is_resampled(tmp_path):
    count = 24
    audio = np.zeros((2, 44_100), np.float32)
    audio[:, 22_050] = 0.9  # 0.5 s
    path = tmp_path / "sr.mp4"
    encode_mp4(path, _frames(count), audio, FPS, sample_rate=44_100)
    decoded = decode_mp4(path)
    assert decoded.audio.shape == (2, SR)
    (onset,) = _onsets(decoded.audio[0], threshold=0.2)
    assert abs(onset - SR // 2) <= 48


def test_bad_input_arrays_raise_media_error(tmp_path):
    with pytest.raises(MediaError, match="even"):
        encode_mp4(tmp_path / "x.mp4", np.zeros((2, 65, 64, 3), np.uint8), _silence(2), FPS)
    with pytest.raises(MediaError, match="uint8"):
        encode_mp4(tmp_path / "x.mp4", np.zeros((2, 64, 64, 3), np.float32), _silence(2), FPS)
    with pytest.raises(MediaError, match="audio"):
        encode_mp4(tmp_path / "x.mp4", np.zeros((2, 64, 64, 3), np.uint8), np.zeros((3, 10)), FPS)


@pytest.mark.parametrize("reader", [probe, decode_mp4])
def test_unreadable_files_raise_media_error(clip, tmp_path, reader):
    data = clip[0].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    stub = tmp_path / "stub.mp4"
    stub.write_bytes(data[:200])
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    missing = tmp_path / "missing.mp4"
    for path in (truncated, stub, text, missing):
        with pytest.raises(MediaError, match="is not a readable video") as caught:
            reader(path)
        assert str(path) in str(caught.value)
