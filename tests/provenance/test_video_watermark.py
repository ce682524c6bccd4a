"""The invisible video watermark through real encodes (encode_mp4, the ffmpeg CLI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from reelforge.engines import get_engine
from reelforge.errors import InvalidRequest, MediaError
from reelforge.media import decode_mp4, encode_mp4
from reelforge.provenance.video_watermark import VideoEvidence, VideoWatermarker, detect_video
from reelforge.recaption import recaption
from reelforge.settings import Settings
from reelforge.types import no_progress

KEY = b"test-video-key"
PAYLOAD = 0xC0FFEE_0123_4567_89
FPS = 24
PROMPT = (
    "Three red rubber balls and a blue wooden crate fall onto the floor of a kitchen; "
    'a woman in a green shirt says "Look out below!"'
)


def _sim_frames(settings: Settings, size: str, seconds: float, seed: int) -> np.ndarray:
    plan, _ = recaption(PROMPT, seed, settings)
    engine = get_engine("sim", settings)
    clip = engine.generate(
        plan, seconds=seconds, size=size, fps=FPS, seed=seed, references=None, progress=no_progress
    )
    return np.asarray(clip.frames)


def _encode(path: Path, frames: np.ndarray) -> Path:
    silence = np.zeros((2, len(frames) * 48_000 // FPS), np.float32)
    encode_mp4(path, frames, silence, FPS)
    return path


def _ffmpeg(source: Path, target: Path, crf: int, video_filter: str | None = None) -> Path:
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(source)]
    if video_filter:
        command += ["-vf", video_filter]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-an", str(target)]
    subprocess.run(command, check=True)
    return target


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def small(settings: Settings) -> np.ndarray:
    """2 s of a sim clip at 256x448 (width x height)."""
    return _sim_frames(settings, "256x448", 2.0, seed=3)


@pytest.fixture(scope="module")
def small_marked(small: np.ndarray) -> np.ndarray:
    frames = small.copy()
    VideoWatermarker(PAYLOAD, KEY, width=256, height=448).embed_rgb(frames)
    return frames


@pytest.fixture(scope="module")
def small_marked_mp4(small_marked: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _encode(tmp_path_factory.mktemp("video") / "marked.mp4", small_marked)


def test_round_trip_on_raw_frames(small_marked: np.ndarray) -> None:
    found = detect_video(small_marked, KEY)
    assert found.detected and found.p_value <= 1e-6
    assert found.payload == PAYLOAD
    assert found.bit_accuracy >= 0.85  # of the coded bits; ~0.75 by chance
    assert found.frames_used == len(small_marked)


def test_psnr_of_both_embedding_paths_is_at_least_40_db(small: np.ndarray) -> None:
    marked = small.copy()
    VideoWatermarker(PAYLOAD, KEY, width=256, height=448).embed_rgb(marked)
    rgb_psnr = _psnr(marked, small)
    # The encode_mp4 path: RGB → I420, mark the Y plane, back to RGB; compared with the same
    # round trip unmarked, so only the mark counts.
    marker = VideoWatermarker(PAYLOAD, KEY, width=256, height=448)
    plain, luma_marked = [], []
    for frame in small[:12]:
        yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
        plain.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420))
        marker.embed_luma(yuv[:448])
        luma_marked.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420))
    luma_psnr = _psnr(np.stack(luma_marked), np.stack(plain))
    assert 40.0 <= rgb_psnr < 50.0, rgb_psnr  # < 50: the mark is really there
    assert 40.0 <= luma_psnr < 50.0, luma_psnr


def test_survives_crf_28_and_crop_to_80_percent_at_720x1280(
    settings: Settings, tmp_path: Path
) -> None:
    frames = _sim_frames(settings, "720x1280", 3.0, seed=5)
    marker = VideoWatermarker(PAYLOAD, KEY, width=720, height=1280)
    # Mark through the luma hook, as encode_mp4 will: RGB → I420 → mark Y → RGB.
    for frame in frames:
        yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)
        marker.embed_luma(yuv[:1280])
        cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420, dst=frame)
    source = _encode(tmp_path / "marked.mp4", frames)
    # 644 x 1144 keeps 80% of the area; an odd offset so the tile grid shifts.
    attacked = _ffmpeg(source, tmp_path / "crop.mp4", crf=28, video_filter="crop=644:1144:37:61")
    decoded = decode_mp4(attacked, with_audio=False).frames
    assert decoded.shape[1:3] == (1144, 644)
    found = detect_video(decoded, KEY)
    assert found.detected and found.p_value <= 1e-6, found
    assert found.payload == PAYLOAD


def test_survives_dropped_frames(small_marked_mp4: Path, tmp_path: Path) -> None:
    # Drop every fifth frame (20%), then re-encode at CRF 23.
    attacked = _ffmpeg(
        small_marked_mp4,
        tmp_path / "dropped.mp4",
        crf=23,
        video_filter="select='not(eq(mod(n\\,5)\\,2))',setpts=N/FRAME_RATE/TB",
    )
    decoded = decode_mp4(attacked, with_audio=False).frames
    assert len(decoded) <= 0.81 * 48
    found = detect_video(decoded, KEY)
    assert found.detected and found.payload == PAYLOAD, found


def test_survives_resize_to_half(small_marked_mp4: Path, tmp_path: Path) -> None:
    attacked = _ffmpeg(
        small_marked_mp4, tmp_path / "half.mp4", crf=23, video_filter="scale=128:224"
    )
    decoded = decode_mp4(attacked, with_audio=False).frames
    assert decoded.shape[1:3] == (224, 128)
    found = detect_video(decoded, KEY)
    assert found.detected and found.payload == PAYLOAD, found
    assert found.scale == pytest.approx(1.0)  # analysed as the native 448 px height / 2


def test_unmarked_video_gives_no_detection(small: np.ndarray, tmp_path: Path) -> None:
    decoded = decode_mp4(_encode(tmp_path / "plain.mp4", small), with_audio=False).frames
    for key in (KEY, b"another key", b"a third key"):
        found = detect_video(decoded, key)
        assert not found.detected
        assert found.p_value >= 1e-3, (key, found)


def test_wrong_key_does_not_detect(small_marked_mp4: Path) -> None:
    # One pass over the frames, read with two keys.
    evidence = VideoEvidence()
    for frame in decode_mp4(small_marked_mp4, with_audio=False).frames:
        evidence.add(frame)
    assert evidence.read(KEY).payload == PAYLOAD
    found = evidence.read(b"not the key")
    assert not found.detected and found.p_value >= 1e-3, found


def test_detects_from_luma_frames_and_an_iterator(small_marked: np.ndarray) -> None:
    lumas = (cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in small_marked)
    found = detect_video(lumas, KEY)
    assert found.detected and found.payload == PAYLOAD


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(InvalidRequest, match="payload"):
        VideoWatermarker(2**64, KEY, width=256, height=448)
    with pytest.raises(InvalidRequest, match="key"):
        VideoWatermarker(1, b"", width=256, height=448)
    with pytest.raises(MediaError, match="width"):
        VideoWatermarker(1, KEY, width=0, height=448)
    marker = VideoWatermarker(1, KEY, width=256, height=448)
    with pytest.raises(MediaError, match="y_plane"):
        marker.embed_luma(np.zeros((448, 255), np.uint8))
    with pytest.raises(MediaError, match="frames"):
        marker.embed_rgb(np.zeros((1, 448, 256, 3), np.float32))
    with pytest.raises(MediaError, match="frames"):
        detect_video(np.zeros((0, 448, 256, 3), np.uint8), KEY)
    with pytest.raises(MediaError, match="frames"):
        detect_video(np.zeros((2, 448, 256, 4), np.uint8), KEY)
