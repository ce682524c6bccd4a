"""Sound from the simulation's own events, at 48 kHz stereo.

- Impacts: modal synthesis. Each contact excites a few damped sinusoids of both bodies
  (pitch from size, mode ratios and decay from material) plus a 2 ms click, starting at the
  exact sample of the contact; loudness follows the closing speed and mass.
- Rolling and sliding: filtered noise whose level follows each body's rolling and slip
  speed, sampled at the physics step and interpolated to audio rate.
- Ambience beds chosen by the setting: room tone, wind, rain, crowd, birds, traffic, waves.
- Speech: espeak-ng utterances placed at their lines' start times.
Everything is panned by horizontal position and is deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reelforge.engines.sim.world import Contact, Simulation

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class Modes:
    """Resonant modes of a struck object: frequencies (Hz), decay times (s), gains."""

    ratios: tuple[float, ...]
    gains: tuple[float, ...]
    decay_s: float  # decay time constant of the fundamental
    base_hz_at_10cm: float  # fundamental of a 10 cm object; scales as 1/size
    click: float  # level of the broadband contact transient


MATERIAL_MODES: dict[str, Modes] = {
    "rubber": Modes((1.0, 1.7, 2.9), (1.0, 0.35, 0.1), 0.035, 420.0, 0.35),
    "wood": Modes((1.0, 2.42, 3.9, 5.8), (1.0, 0.6, 0.3, 0.15), 0.05, 900.0, 0.6),
    "metal": Modes((1.0, 2.76, 5.40, 8.93), (1.0, 0.7, 0.45, 0.25), 0.45, 1400.0, 0.5),
    "glass": Modes((1.0, 2.32, 4.25, 6.63), (1.0, 0.6, 0.4, 0.2), 0.3, 2600.0, 0.55),
    "plastic": Modes((1.0, 2.1, 3.6), (1.0, 0.5, 0.2), 0.05, 1100.0, 0.55),
    "stone": Modes((1.0, 2.6, 4.1), (1.0, 0.5, 0.25), 0.03, 700.0, 0.8),
    "ice": Modes((1.0, 2.5, 4.6), (1.0, 0.55, 0.3), 0.08, 1900.0, 0.6),
    # Things of the asset library: an animal's or a cushion's body is a dull thump.
    "flesh": Modes((1.0, 1.6), (1.0, 0.3), 0.025, 260.0, 0.3),
    "fabric": Modes((1.0,), (1.0,), 0.02, 300.0, 0.25),
}
# Surfaces: what the floor, walls and characters sound like when hit.
SURFACE_MODES: dict[str, Modes] = {
    "wood": Modes((1.0, 1.9, 3.1), (1.0, 0.5, 0.25), 0.06, 22.0, 0.7),
    "tile": Modes((1.0, 2.3, 4.4), (1.0, 0.6, 0.3), 0.04, 40.0, 1.0),
    "concrete": Modes((1.0, 2.1), (1.0, 0.4), 0.025, 30.0, 0.9),
    "carpet": Modes((1.0,), (1.0,), 0.02, 12.0, 0.25),
    "grass": Modes((1.0,), (1.0,), 0.02, 10.0, 0.3),
    "sand": Modes((1.0,), (1.0,), 0.015, 9.0, 0.35),
    "asphalt": Modes((1.0, 2.2), (1.0, 0.4), 0.025, 28.0, 0.9),
    "dirt": Modes((1.0,), (1.0,), 0.02, 11.0, 0.4),
    "snow": Modes((1.0,), (1.0,), 0.015, 8.0, 0.2),
    "water": Modes((1.0,), (1.0,), 0.03, 6.0, 0.5),
    "rock": Modes((1.0, 2.3), (1.0, 0.4), 0.03, 35.0, 0.9),
    "wall": Modes((1.0, 2.0), (1.0, 0.4), 0.05, 18.0, 0.7),
    "body": Modes((1.0,), (1.0,), 0.03, 14.0, 0.3),
}


def synthesize_impacts(
    contacts: list[Contact], sim: Simulation, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """(2, n_samples) float32: every contact sounding from its exact sample."""
    out = np.zeros((2, n_samples), np.float32)
    for contact in contacts:
        start = round(contact.time_s * SAMPLE_RATE)
        if start >= n_samples:
            continue
        sound = _impact(contact, rng)
        end = min(n_samples, start + sound.size)
        left, right = _pan_gains(contact.x_m / sim.view_w_m)
        out[0, start:end] += left * sound[: end - start]
        out[1, start:end] += right * sound[: end - start]
    return out


def _impact(contact: Contact, rng: np.random.Generator) -> np.ndarray:
    # Loudness: closing speed sets the force of the blow; a soft knee keeps gentle taps audible.
    level = min(1.0, 0.12 + 0.88 * (contact.speed / 7.0) ** 0.8) * 0.55
    parts = []
    for material, size in (
        (contact.material_a, contact.size_a_m),
        (contact.material_b, contact.size_b_m),
    ):
        # Big static surfaces (floor, walls, characters) have their own fixed pitch;
        # objects ring at a pitch inversely proportional to their size.
        if size >= 4.0:
            modes = SURFACE_MODES.get(material, SURFACE_MODES["wall"])
            fundamental = modes.base_hz_at_10cm * 6.0
        else:
            modes = MATERIAL_MODES[material]
            fundamental = modes.base_hz_at_10cm * 0.1 / max(size, 0.05)
        parts.append((modes, fundamental))
    length = int(SAMPLE_RATE * min(1.5, 5 * max(m.decay_s for m, _ in parts) + 0.01))
    t = np.arange(length, dtype=np.float32) / SAMPLE_RATE
    sound = np.zeros(length, np.float32)
    for modes, fundamental in parts:
        for k, (ratio, gain) in enumerate(zip(modes.ratios, modes.gains, strict=True)):
            freq = fundamental * ratio * float(rng.uniform(0.98, 1.02))
            if freq >= SAMPLE_RATE / 2 - 1000:
                continue
            decay = modes.decay_s / (1.0 + 0.6 * k)  # higher modes die faster
            phase = float(rng.uniform(0, 2 * np.pi))
            sound += gain * np.exp(-t / decay) * np.sin(2 * np.pi * freq * t + phase)
    # A short attack ramp avoids a DC step; the click gives the contact its sharp onset.
    attack = int(0.0008 * SAMPLE_RATE)
    sound[:attack] *= np.linspace(0.0, 1.0, attack, dtype=np.float32)
    click_len = int(0.002 * SAMPLE_RATE)
    click_level = max(m.click for m, _ in parts)
    click = rng.standard_normal(click_len).astype(np.float32) * np.exp(
        -np.arange(click_len, dtype=np.float32) / (0.0005 * SAMPLE_RATE)
    )
    sound[:click_len] += 1.5 * click_level * click
    peak = float(np.abs(sound).max()) or 1.0
    return sound * (level / peak)


def synthesize_surface_motion(
    sim: Simulation, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Rolling rumble and sliding friction noise, following each body's contact speeds."""
    out = np.zeros((2, n_samples), np.float32)
    step_times = np.arange(sim.roll_speed.shape[1]) * sim.step_s
    sample_times = np.arange(n_samples) / SAMPLE_RATE
    frame_times = np.arange(sim.frame_count) / sim.fps
    for i, body in enumerate(sim.bodies):
        roll, slip = sim.roll_speed[i], sim.slip_speed[i]
        if roll.max() < 0.05 and slip.max() < 0.05:
            continue
        x_pan = np.interp(sample_times, frame_times, body.track[:, 0] / sim.view_w_m)
        size = body.size_m
        if roll.max() >= 0.05:
            # Smooth the per-step signal (contacts flicker step to step) then upsample.
            envelope = np.interp(sample_times, step_times, _smooth(roll, 25))
            noise = rng.standard_normal(n_samples).astype(np.float32)
            cutoff = float(np.clip(180.0 / size, 150.0, 1500.0))
            rumble = shape_noise(noise, high_hz=cutoff)
            level = 0.22 * np.clip(envelope / 3.0, 0.0, 1.0) ** 1.2 * min(1.0, size / 0.3)
            _add_panned(out, rumble * level, x_pan)
        if slip.max() >= 0.05:
            envelope = np.interp(sample_times, step_times, _smooth(slip, 25))
            noise = rng.standard_normal(n_samples).astype(np.float32)
            centre = {
                "metal": 3500.0,
                "glass": 4000.0,
                "ice": 5000.0,
                "wood": 1800.0,
                "stone": 1200.0,
                "plastic": 2500.0,
            }.get(body.material, 1500.0)
            scrape = shape_noise(noise, low_hz=0.5 * centre, high_hz=1.6 * centre)
            level = 0.12 * np.clip(envelope / 3.0, 0.0, 1.0) ** 1.0
            _add_panned(out, scrape * level, x_pan)
    return out


def synthesize_ambience(kind: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """(2, n) float32 bed for the setting; levels stay well below impacts and speech."""
    n = n_samples
    t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
    white = rng.standard_normal((2, n)).astype(np.float32)

    def lowpass(x: np.ndarray, hz: float) -> np.ndarray:
        return shape_noise(x, high_hz=hz)

    def bandpass(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return shape_noise(x, low_hz=lo, high_hz=hi)

    def slow(rate_hz: float, depth: float) -> np.ndarray:
        """A smooth random modulation in [1 - depth, 1 + depth]."""
        points = int(n / SAMPLE_RATE * rate_hz) + 3
        control = rng.uniform(-1, 1, points)
        curve = np.interp(t, np.linspace(0, n / SAMPLE_RATE, points), control)
        return (1.0 + depth * curve).astype(np.float32)

    from reelforge.engines.sim import sfx  # sfx builds on shape_noise, below

    if kind in sfx.WEATHER_KINDS:  # the beds of places the first seven did not cover
        mono = sfx.weather_bed(kind, n, rng)
        wide = np.roll(mono, int(0.011 * SAMPLE_RATE))  # a little width: a delayed copy
        return np.stack([mono, 0.7 * mono + 0.3 * wide]).astype(np.float32)
    if kind == "wind":
        bed = bandpass(white, 150, 900) * slow(0.4, 0.7) * 0.05
        bed += lowpass(white, 120) * 0.04
    elif kind == "rain":
        bed = bandpass(white, 800, 8000) * 0.025
        drops = (rng.random((2, n)) < 250 / SAMPLE_RATE).astype(np.float32)
        drops *= rng.uniform(0.0, 0.02, (2, n)).astype(np.float32)
        bed += bandpass(drops, 1500, 9000) * 3.0
    elif kind == "crowd":
        voices = np.zeros((2, n), np.float32)
        for k in range(10):
            syllables = slow(4.0 + k * 0.3, 0.9)
            formant = 300.0 + 120.0 * k
            voices[k % 2] += bandpass(white[k % 2] * syllables, formant, formant * 2.2) * 0.012
        bed = voices + lowpass(white, 300) * 0.01
    elif kind == "birds":
        bed = lowpass(white, 400) * 0.012
        chirp_t = float(rng.uniform(0.3, 1.5))
        while chirp_t < n / SAMPLE_RATE - 0.3:
            length = int(float(rng.uniform(0.06, 0.14)) * SAMPLE_RATE)
            tt = np.arange(length) / SAMPLE_RATE
            f0, f1 = float(rng.uniform(2500, 4000)), float(rng.uniform(3500, 6000))
            chirp = np.sin(2 * np.pi * (f0 * tt + (f1 - f0) * tt**2 / (2 * tt[-1])))
            chirp *= np.sin(np.pi * tt / tt[-1]) ** 2 * 0.02
            start = int(chirp_t * SAMPLE_RATE)
            bed[int(rng.integers(2)), start : start + length] += chirp.astype(np.float32)
            chirp_t += float(rng.uniform(0.8, 2.5))
    elif kind == "traffic":
        bed = lowpass(white, 180) * 0.05 * slow(0.15, 0.6)
        bed += bandpass(white, 300, 1200) * 0.008 * slow(0.3, 0.8)
    elif kind == "waves":
        swell = (0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0 + float(rng.uniform(0, 6.28)))) ** 2
        bed = lowpass(white, 900) * (0.012 + 0.05 * swell.astype(np.float32))
    else:  # room tone: a quiet, dark hiss with a faint mains hum
        bed = lowpass(white, 250) * 0.012
        bed += (0.0015 * np.sin(2 * np.pi * 60 * t) + 0.0008 * np.sin(2 * np.pi * 120 * t)).astype(
            np.float32
        )
    # Fade in over 50 ms so the clip does not start with a step.
    fade = min(n, int(0.05 * SAMPLE_RATE))
    bed[:, :fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
    return bed.astype(np.float32)


def place_speech(out: np.ndarray, audio: np.ndarray, start_s: float, pan: float) -> None:
    """Add a mono utterance into `out` (2, S) from `start_s`, panned to `pan` (0 left, 1 right)."""
    start = round(start_s * SAMPLE_RATE)
    if start >= out.shape[1]:
        return
    end = min(out.shape[1], start + audio.size)
    left, right = _pan_gains(pan)
    out[0, start:end] += left * 0.8 * audio[: end - start]
    out[1, start:end] += right * 0.8 * audio[: end - start]


def master(mix: np.ndarray, ceiling: float = 0.89) -> np.ndarray:
    """Scale the whole mix down if it would exceed the ceiling (about -1 dBFS); never clip."""
    peak = float(np.abs(mix).max())
    if peak > ceiling:
        mix = mix * (ceiling / peak)
    return mix.astype(np.float32)


def shape_noise(
    x: np.ndarray, *, low_hz: float | None = None, high_hz: float | None = None, order: int = 2
) -> np.ndarray:
    """Filter `x` (..., S) by the magnitude of a Butterworth high-pass at `low_hz` and/or
    low-pass at `high_hz`, in the frequency domain (zero phase).

    Only for noise beds, where phase is inaudible: one FFT is faster than a recursive
    filter, and it spares importing scipy.signal (0.6 s of a 4 s budget).
    """
    n = x.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    gain = np.ones_like(freqs)
    if high_hz is not None:
        gain /= np.sqrt(1.0 + (freqs / high_hz) ** (2 * order))
    if low_hz is not None:
        gain /= np.sqrt(1.0 + (low_hz / np.maximum(freqs, 1e-3)) ** (2 * order))
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * gain, n, axis=-1).astype(np.float32)


def _pan_gains(position: float) -> tuple[float, float]:
    """Constant-power pan; position 0 is the left edge of the frame, 1 the right."""
    p = min(1.0, max(0.0, 0.2 + 0.6 * position))  # keep some of everything in both ears
    return math.cos(p * math.pi / 2), math.sin(p * math.pi / 2)


def _add_panned(out: np.ndarray, mono: np.ndarray, pan: np.ndarray) -> None:
    p = np.clip(0.2 + 0.6 * pan, 0.0, 1.0)
    out[0] += mono * np.cos(p * np.pi / 2).astype(np.float32)
    out[1] += mono * np.sin(p * np.pi / 2).astype(np.float32)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width, np.float32) / width
    return np.convolve(x, kernel, mode="same")
