"""Audio sample-rate conversion (no PyAV: the engines and training use it too)."""

from __future__ import annotations

import math

import numpy as np


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(C, S) audio from `rate` to `target` Hz (polyphase), float32; unchanged if equal."""
    if rate == target:
        return audio
    from scipy.signal import resample_poly

    gcd = math.gcd(rate, target)
    return np.asarray(resample_poly(audio, target // gcd, rate // gcd, axis=1), np.float32)
