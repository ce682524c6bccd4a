"""Audio onset detection by spectral flux, with sub-frame timing.

1. Short-time spectra (window 1024, hop 128 at 48 kHz: 2.7 ms) of the mono mix.
2. Flux: the summed positive change of log-magnitude per bin, emphasising the broadband
   transients that impacts make.
3. Peaks above an adaptive threshold (local median + k·MAD, and at least `min_ratio` times
   the local median), at least `min_gap_s` apart.
4. Each peak is refined to the sample where the short-term energy first rises sharply,
   which puts the onset within a few milliseconds of the true start.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

WINDOW = 1024
HOP = 128


def onset_times(
    audio: np.ndarray,
    sample_rate: int,
    *,
    sensitivity: float = 6.0,
    min_gap_s: float = 0.03,
    floor_db: float = -50.0,
    min_ratio: float = 1.6,
) -> np.ndarray:
    """Onset times in seconds of `audio` (C, S) or (S,)."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    mono = mono.astype(np.float32)
    if mono.size < WINDOW:
        return np.zeros(0)
    # 1. Spectra: frames start at sample k·HOP (window begins there, no centring).
    frames = np.lib.stride_tricks.sliding_window_view(mono, WINDOW)[::HOP]  # (N, WINDOW)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(WINDOW).astype(np.float32), axis=1))
    log_mag = np.log1p(1000.0 * spectrum)  # (N, bins)
    # 2. Positive flux, weighted toward high frequencies where clicks live.
    weights = np.linspace(0.5, 1.5, log_mag.shape[1], dtype=np.float32)
    flux = np.concatenate([[0.0], (np.maximum(np.diff(log_mag, axis=0), 0) * weights).sum(axis=1)])
    # 3. Adaptive threshold over ±0.5 s, and a loudness gate.
    span = max(3, int(0.5 * sample_rate / HOP)) | 1
    median = ndimage.median_filter(flux, size=span, mode="nearest")
    mad = ndimage.median_filter(np.abs(flux - median), size=span, mode="nearest")
    # Steady noise has a flux that never strays more than ~1.3x its median, so a real
    # onset must also clear `min_ratio` times the local median.
    threshold = np.maximum(
        median + sensitivity * np.maximum(mad, 1e-3 * float(flux.max() or 1.0)),
        min_ratio * median,
    )
    rms_db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    distance = max(1, int(min_gap_s * sample_rate / HOP))
    peaks, _ = signal.find_peaks(flux, height=threshold, distance=distance)
    peaks = peaks[rms_db[np.minimum(peaks, len(rms_db) - 1)] > floor_db]
    # 4. Refine: the window at peak k straddles the onset; find the energy rise inside it.
    return np.array([_refine(mono, int(k), sample_rate) for k in peaks])


def _refine(mono: np.ndarray, peak: int, sample_rate: int) -> float:
    start = max(0, (peak - 1) * HOP)
    stop = min(mono.size, peak * HOP + WINDOW)
    segment = mono[start:stop]
    if segment.size < 64:
        return start / sample_rate
    # Energy in 1 ms steps; the onset is the first step that jumps well above what was before.
    step = max(1, sample_rate // 1000)
    energy = np.add.reduceat(segment.astype(np.float64) ** 2, np.arange(0, segment.size, step))
    background = np.minimum.accumulate(np.maximum(energy, 1e-12))
    jump = energy / background
    rising = np.nonzero(jump > 30.0)[0]
    index = int(rising[0]) if rising.size else int(np.argmax(np.diff(energy, prepend=0.0)))
    return (start + index * step) / sample_rate
