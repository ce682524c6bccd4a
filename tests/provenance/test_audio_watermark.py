"""The audio watermark through real codecs and resamplers (the ffmpeg CLI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from reelforge.engines import get_engine
from reelforge.errors import InvalidRequest, MediaError
from reelforge.media import decode_audio, resample
from reelforge.provenance.audio_watermark import (
    OFFSETS,
    PERIOD_FRAMES,
    AudioWatermarker,
    detect_audio,
)
from reelforge.provenance.payload import max_normal_p_value, normal_tail
from reelforge.recaption import recaption
from reelforge.settings import Settings
from reelforge.types import no_progress

KEY = b"test-audio-key"
PAYLOAD = 0x5EED_0000_1234_ABCD
SR = 48_000
PROMPT = (
    "Two green boxes slide across a wooden table in a quiet library; "
    'a man says "Careful now." and a ball bounces on the floor.'
)


def _ffmpeg(*args: str, data: bytes) -> bytes:
    command = ["ffmpeg", "-v", "error", *args]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


def _raw_input(channels: int, rate: int = SR) -> list[str]:
    """ffmpeg options reading interleaved float32 from stdin."""
    return ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:"]


def _interleaved(audio: np.ndarray) -> bytes:
    return np.ascontiguousarray(audio.T).tobytes()


def _ffmpeg_round_trip(audio: np.ndarray, encode: list[str], container: str) -> np.ndarray:
    """float32 (C, S) at 48 kHz → ffmpeg encode → ffmpeg decode → float32 (2, S') at 48 kHz."""
    encoded = _ffmpeg(
        *_raw_input(audio.shape[0]), *encode, "-f", container, "pipe:", data=_interleaved(audio)
    )
    decoded = _ffmpeg(
        "-i", "pipe:", "-f", "f32le", "-ac", "2", "-ar", str(SR), "pipe:", data=encoded
    )
    return np.frombuffer(decoded, np.float32).reshape(-1, 2).T.copy()


@pytest.fixture(scope="module")
def original(settings: Settings) -> np.ndarray:
    """10 s of sim audio: speech, contacts and room ambience, float32 (2, 480000)."""
    plan, _ = recaption(PROMPT, 2, settings)
    engine = get_engine("sim", settings)
    clip = engine.generate(
        plan, seconds=10.0, size="256x448", fps=24, seed=2, references=None, progress=no_progress
    )
    assert clip.sample_rate == SR
    return clip.audio


@pytest.fixture(scope="module")
def marked(original: np.ndarray) -> np.ndarray:
    return AudioWatermarker(PAYLOAD, KEY).embed(original, SR)


def _assert_found(audio: np.ndarray) -> None:
    found = detect_audio(audio, SR, KEY)
    assert found.detected and found.p_value <= 1e-6, found
    assert found.payload == PAYLOAD, found


def test_round_trip_and_snr(original: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == original.shape and marked.dtype == np.float32
    snr_db = 10 * np.log10(np.sum(original**2) / np.sum((marked - original) ** 2))
    assert snr_db >= 30.0, snr_db
    found = detect_audio(marked, SR, KEY)
    assert found.detected and found.payload == PAYLOAD
    assert found.bit_accuracy >= 0.9
    assert found.start_s == 0.0


def test_survives_aac_64k(marked: np.ndarray) -> None:
    _assert_found(_ffmpeg_round_trip(marked, ["-c:a", "aac", "-b:a", "64k"], "adts"))


def test_survives_mp3_64k(marked: np.ndarray) -> None:
    _assert_found(_ffmpeg_round_trip(marked, ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"))


def test_survives_resampling_to_16k_and_back(marked: np.ndarray) -> None:
    at_16k = _ffmpeg_round_trip(marked, ["-ar", "16000", "-c:a", "pcm_f32le"], "wav")
    _assert_found(at_16k)


def test_detects_at_another_sample_rate(marked: np.ndarray) -> None:
    # ffmpeg's 16 kHz output itself, handed over at 16 kHz: detect_audio resamples.
    encoded = _ffmpeg(
        *_raw_input(2), "-ar", "16000", "-f", "f32le", "pipe:", data=_interleaved(marked)
    )
    at_16k = np.frombuffer(encoded, np.float32).reshape(-1, 2).T
    found = detect_audio(at_16k, 16_000, KEY)
    assert found.detected and found.payload == PAYLOAD, found


def test_survives_a_trim_at_an_arbitrary_offset(marked: np.ndarray) -> None:
    start = round(2.713 * SR)  # not a multiple of the hop or the period
    excerpt = marked[:, start : start + 4 * SR]
    found = detect_audio(excerpt, SR, KEY)
    assert found.detected and found.payload == PAYLOAD, found
    # The period is 188 hops of 512 samples; the excerpt starts 2.713 s into the clip.
    # Located to within the detector's sub-hop step (128 samples, 2.7 ms) or so.
    assert found.start_s == pytest.approx(2.713 % (188 * 512 / SR), abs=0.006)


def test_unmarked_audio_gives_no_detection(original: np.ndarray) -> None:
    for key in (KEY, b"another key", b"a third key"):
        found = detect_audio(original, SR, key)
        assert not found.detected and found.p_value >= 1e-3, (key, found)


def test_wrong_key_does_not_detect(marked: np.ndarray) -> None:
    found = detect_audio(marked, SR, b"not the key")
    assert not found.detected and found.p_value >= 1e-3, found


def test_silence_stays_silent_and_says_nothing() -> None:
    silence = np.zeros((2, 5 * SR), np.float32)
    assert not AudioWatermarker(PAYLOAD, KEY).embed(silence, SR).any()
    found = detect_audio(silence, SR, KEY)
    assert not found.detected and found.p_value == 1.0


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(InvalidRequest, match="payload"):
        AudioWatermarker(-1, KEY)
    with pytest.raises(InvalidRequest, match="key"):
        AudioWatermarker(1, "text key")  # type: ignore[arg-type]
    marker = AudioWatermarker(1, KEY)
    with pytest.raises(MediaError, match="audio"):
        marker.embed(np.zeros((3, SR), np.float32), SR)
    with pytest.raises(MediaError, match="audio"):
        marker.embed(np.zeros((2, SR), np.int16), SR)
    with pytest.raises(MediaError, match="sample_rate"):
        marker.embed(np.zeros((2, SR), np.float32), 44_100)
    with pytest.raises(MediaError, match="sample_rate"):
        detect_audio(np.zeros((2, SR), np.float32), 0, KEY)


def test_the_p_value_spends_half_on_the_clip_as_made_and_half_on_a_search(
    marked: np.ndarray,
) -> None:
    """Bonferroni over two tests: the clip as made (its period starts at sample 0: one
    statistic) and an excerpt (the largest of 4 offsets x 188 starts)."""
    whole = detect_audio(marked, SR, KEY)
    assert whole.start_s == 0.0
    assert whole.p_value == pytest.approx(2 * normal_tail(whole.sync_z), rel=1e-9)
    start = round(2.713 * SR)
    excerpt = detect_audio(marked[:, start : start + 4 * SR], SR, KEY)
    searched = max_normal_p_value(excerpt.sync_z, OFFSETS * PERIOD_FRAMES)
    assert excerpt.detected and excerpt.p_value == pytest.approx(2 * searched, rel=1e-9)


def test_an_untouched_2_s_clip_the_search_alone_missed_is_found(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 21: one untouched clip in 100 was missed at p = 1.03e-6. This 2 s sim clip,
    marked, muxed into an MP4 with AAC at 192 kbps and decoded as `verify` decodes it,
    has z = 5.78 where its period starts: the search over 752 starts alone gives
    p = 2.7e-6 (missed), the test of the clip as made 7e-9 (found, right payload)."""
    key, payload = bytes(range(32)), 0x1234_5678_9ABC_DEF0
    prompt = 'a teacher plays the piano while a boy sings "Happy birthday!" in the classroom'
    plan, _ = recaption(prompt, 17, settings)
    clip = get_engine("sim", settings).generate(
        plan, seconds=2.0, size="360x640", fps=24, seed=2017, references=None,
        progress=no_progress,
    )  # fmt: skip
    audio = AudioWatermarker(payload, key).embed(resample(clip.audio, clip.sample_rate, SR), SR)
    pcm = (np.clip(audio.T, -1, 1) * 32767).astype("<i2").tobytes()
    video = tmp_path / "clip.mp4"
    _ffmpeg(
        "-f", "s16le", "-ar", str(SR), "-ac", str(audio.shape[0]), "-i", "pipe:",
        "-f", "lavfi", "-i", "color=black:s=64x64:r=24", "-shortest",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", str(video),
        data=pcm,
    )  # fmt: skip
    found = detect_audio(*decode_audio(video), key)
    assert found.start_s == 0.0
    assert max_normal_p_value(found.sync_z, OFFSETS * PERIOD_FRAMES) > 1e-6  # search: missed
    assert found.detected and found.p_value <= 1e-8 and found.payload == payload, found
