import numpy as np

from reelforge.eval.onsets import onset_times

SR = 48_000


def knock(freq_hz: float, level: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.15 * SR)) / SR
    tone = np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / 0.03)
    tone[:96] += rng.standard_normal(96) * np.exp(-np.arange(96) / 24)
    return (level * tone).astype(np.float32)


def test_onsets_found_within_two_ms_over_noise():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, 4 * SR)) * 0.003).astype(np.float32)  # -50 dBFS hiss
    truth = [0.31, 0.9, 1.2371, 2.05, 2.5, 3.333]
    for k, t in enumerate(truth):
        start = round(t * SR)
        sound = knock(200 + 150 * k, 0.05 + 0.1 * (k % 3), rng)
        audio[:, start : start + sound.size] += sound
    found = onset_times(audio, SR)
    assert len(found) == len(truth)
    assert np.max(np.abs(found - np.array(truth))) < 0.002


def test_silence_and_steady_noise_have_no_onsets():
    rng = np.random.default_rng(1)
    assert onset_times(np.zeros((2, SR), np.float32), SR).size == 0
    hiss = (rng.standard_normal(2 * SR) * 0.01).astype(np.float32)
    assert onset_times(hiss, SR).size == 0
    assert onset_times(np.zeros(100, np.float32), SR).size == 0  # shorter than a window
