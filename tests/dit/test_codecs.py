"""The shipped weights load with from_pretrained and round-trip a sim clip."""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.engines.dit.codecs import WEIGHTS_DIR, CodecPair
from reelforge.engines.dit.data import SimClipDataset

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def codecs() -> CodecPair:
    return CodecPair.from_pretrained()


def test_shipped_shards_are_small_and_bfloat16():
    shards = list(WEIGHTS_DIR.glob("*/model-*.safetensors"))
    assert {path.parent.name for path in shards} == {"video-vae", "audio-codec", "dit"}
    assert all(path.stat().st_size <= 15 * MIB for path in shards)
    assert sum(path.stat().st_size for path in shards) <= 40 * MIB  # all shipped weights


def test_a_sim_clip_round_trips_through_the_shipped_codecs(codecs):
    sample = SimClipDataset(seconds=1.0, seed=99)[1]  # landscape, 24 frames, 16,000 samples
    latents = codecs.encode_video(sample.frames)
    assert latents.shape == (16, 7, 32, 56)  # 24 frames padded to 25 = 1 + 4·6
    frames = codecs.decode_video(latents, len(sample.frames))
    assert frames.shape == sample.frames.shape and frames.dtype == np.uint8
    mse = np.mean((frames.astype(np.float64) - sample.frames) ** 2)
    assert 10 * np.log10(255**2 / mse) > 22.0  # measured: see docs/BENCHMARKS.md

    sound_latents = codecs.encode_audio(sample.audio)
    assert sound_latents.shape == (32, 50)  # 50 latents per second
    sound = codecs.decode_audio(sound_latents, sample.audio.size)
    assert sound.shape == sample.audio.shape
    envelope = [np.sqrt(np.mean(x.reshape(-1, 160) ** 2, axis=1)) for x in (sample.audio, sound)]
    assert np.corrcoef(*envelope)[0, 1] > 0.8  # the loudness follows the original's

    # Deterministic: the same pixels give the same bytes (a 9-frame corner keeps it quick).
    corner = np.ascontiguousarray(sample.frames[:9, :128, :128])
    once, twice = (codecs.decode_video(codecs.encode_video(corner), 9) for _ in range(2))
    assert once.shape == corner.shape and np.array_equal(once, twice)


def test_the_engine_represents_a_clip_through_its_codecs():
    """`DitEngine.represent` (the eval's ceiling for the dit): a sim clip at 360x640 and
    48 kHz stereo comes back the same shape, through the codecs at native size, close to
    the original, and the same twice."""
    import cv2

    from reelforge.engines.dit.engine import DitEngine
    from reelforge.media import resample
    from reelforge.settings import Settings

    sample = SimClipDataset(seconds=1.0, seed=7)[0]  # portrait, 24 frames, 16 kHz mono
    frames = np.stack(
        [cv2.resize(f, (360, 640), interpolation=cv2.INTER_CUBIC) for f in sample.frames]
    )
    audio = np.repeat(resample(sample.audio[None], 16_000, 48_000), 2, axis=0)
    engine = DitEngine(Settings())
    pixels, sound = engine.represent(frames, audio, 48_000)
    assert pixels.shape == frames.shape and pixels.dtype == np.uint8
    assert sound.shape == audio.shape
    mse = np.mean((pixels.astype(np.float64) - frames) ** 2)
    assert 10 * np.log10(255**2 / mse) > 20.0
    again, _ = engine.represent(frames, audio, 48_000)
    assert np.array_equal(pixels, again)
