"""The things' sound: every event of engines/sim/things.py at its exact sample, plus the
sources that last (engines with Doppler, rocket thrust), panned to where the thing is.

- "impact:<material>": a struck object's modes (audio.MATERIAL_MODES), pitch from size;
- "note:<instrument>:<midi>": one note of the thing's tune; a thing's notes are
  synthesised together (sfx.melody), so strings ring on under the next note;
- any other class: sfx.event_sound (barks, footsteps, whooshes, crashes, ...);
- continuous "engine:<kind>" levels (speed per frame) → sfx.engine_sound, listened to from
  the middle of the frame; "rocket" thrust → sfx.rocket_roar.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from reelforge.engines.sim import sfx
from reelforge.engines.sim.audio import MATERIAL_MODES, SAMPLE_RATE
from reelforge.engines.sim.things import ThingEvent, ThingsSim

NOTE_S = 0.45  # how long a note rings before the next takes over


def synthesize_things(
    sim: ThingsSim, view_w_m: float, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """(2, n_samples) float32.

    Every sound draws its randomness from its own stream, keyed by what it is (class, time,
    source), so adding or removing one event never changes how another sounds."""
    out = np.zeros((2, n_samples), np.float32)
    base = int(rng.integers(2**63))

    def stream(*key: object) -> np.random.Generator:
        return np.random.default_rng([base, zlib.crc32(repr(key).encode())])

    notes: dict[tuple[str, str], list[ThingEvent]] = {}
    for event in sim.events:
        if event.sound.startswith("note:"):
            _, instrument, _ = event.sound.split(":")
            notes.setdefault((event.thing, instrument), []).append(event)
            continue
        mono = _one_shot(event, stream(event.sound, event.time_s, event.thing))
        _place(out, mono, round(event.time_s * SAMPLE_RATE), event.x_m / view_w_m)
    for (_, instrument), events in notes.items():
        tune = [(e.time_s, float(e.sound.split(":")[2]), NOTE_S) for e in events]
        mono = sfx.melody(instrument, tune, n_samples, stream(events[0].thing, instrument)) * 0.8
        _place(out, mono, 0, events[0].x_m / view_w_m)
    for source in sim.continuous:
        thing = next(t for t in sim.things if t.name == source.thing)
        per_sample = _to_samples(source.level, n_samples)
        x_m = _to_samples(thing.track[:, 0], n_samples)
        if source.kind == "rocket":
            mono = sfx.rocket_roar(per_sample, stream(source.thing, source.kind)) * 0.9
        else:
            mono = (
                sfx.engine_sound(
                    per_sample,
                    x_m,
                    listener_x_m=view_w_m / 2,
                    kind=source.kind.removeprefix("engine:"),
                    rng=stream(source.thing, source.kind),
                )
                * 0.6
            )
        pan = np.clip(x_m / view_w_m, 0.0, 1.0)
        _place_moving(out, mono, pan)
    return out


def _one_shot(event: ThingEvent, rng: np.random.Generator) -> np.ndarray:
    if event.sound.startswith("impact:"):
        return _impact(event.sound.removeprefix("impact:"), event.size_m, event.intensity, rng)
    return sfx.event_sound(event.sound, rng=rng, size_m=event.size_m, intensity=event.intensity)


def _impact(material: str, size_m: float, intensity: float, rng: np.random.Generator) -> np.ndarray:
    modes = MATERIAL_MODES.get(material)
    if modes is None:  # flesh, fabric: a dull thud
        return sfx.event_sound("thud", rng=rng, size_m=size_m, intensity=intensity)
    length = int(min(1.2, 6 * modes.decay_s + 0.05) * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    f0 = modes.base_hz_at_10cm * 0.1 / max(min(size_m, 2.0), 0.03)
    out = np.zeros(length, np.float32)
    for ratio, gain in zip(modes.ratios, modes.gains, strict=True):
        f = f0 * ratio * float(rng.uniform(0.98, 1.02))
        if f >= SAMPLE_RATE / 2:
            continue
        decay = modes.decay_s / math.sqrt(ratio)
        out += (gain * np.sin(2 * np.pi * f * t) * np.exp(-t / decay)).astype(np.float32)
    click = min(length, 96)
    out[:click] += (
        modes.click * rng.standard_normal(click) * np.exp(-np.arange(click) / 20)
    ).astype(np.float32)
    return out / max(1e-6, float(np.abs(out).max())) * 0.5 * intensity


def _to_samples(per_frame: np.ndarray, n_samples: int) -> np.ndarray:
    frames = len(per_frame)
    if frames == 0:
        return np.zeros(n_samples, np.float32)
    frame_times = np.arange(frames) * (n_samples / frames)
    return np.interp(np.arange(n_samples), frame_times, per_frame).astype(np.float32)


def _place(out: np.ndarray, mono: np.ndarray, start: int, pan: float) -> None:
    if start >= out.shape[1] or start < 0:
        return
    end = min(out.shape[1], start + mono.size)
    p = min(1.0, max(0.0, 0.2 + 0.6 * pan))
    out[0, start:end] += math.cos(p * math.pi / 2) * mono[: end - start]
    out[1, start:end] += math.sin(p * math.pi / 2) * mono[: end - start]


def _place_moving(out: np.ndarray, mono: np.ndarray, pan: np.ndarray) -> None:
    n = min(out.shape[1], mono.size)
    p = np.clip(0.2 + 0.6 * pan[:n], 0.0, 1.0)
    out[0, :n] += mono[:n] * np.cos(p * np.pi / 2).astype(np.float32)
    out[1, :n] += mono[:n] * np.sin(p * np.pi / 2).astype(np.float32)
