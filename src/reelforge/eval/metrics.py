"""Metrics of one clip, from its decoded frames and samples only.

Units are in the names: milliseconds (`_ms`), pixels of the original video (`_px`),
fractions in 0..1. Each metric is explained in docs/EVAL.md.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reelforge.eval.characters import Face, find_faces, mouth_apertures
from reelforge.eval.contacts import VisualContact, find_contacts, flight_fit, gravity_estimate
from reelforge.eval.identity import identity_score
from reelforge.eval.objects import Track, detect, track
from reelforge.eval.onsets import onset_times
from reelforge.eval.reader import Reading, read_clip

MIN_TRACK_SHARE = 0.2  # a track must be seen in this share of frames to count as an object
STATIC_LEVELS = 8  # luma change that compression noise alone can cause
SUSTAIN = 3  # frames a count must hold to be believed
SPEAKING_APERTURE = 0.06  # mouth opening (head radii) above which a character is talking


@dataclass(frozen=True)
class Expected:
    """What the prompt asked for (from a suite entry)."""

    objects: tuple[tuple[str, str, int], ...] = ()  # (kind, colour, count)
    characters: int | None = None
    dialogue: bool = False


@dataclass
class ClipMetrics:
    faithfulness: dict[str, Any] = field(default_factory=dict)
    av_sync: dict[str, Any] = field(default_factory=dict)
    lip_sync: dict[str, Any] = field(default_factory=dict)
    physics: dict[str, Any] = field(default_factory=dict)
    temporal: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, Any] = field(default_factory=dict)
    cameo: dict[str, Any] = field(default_factory=dict)  # empty unless a cameo was given
    detections: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Observed:
    """What the detectors found in a clip; metrics are computed from this."""

    reading: Reading
    faces: list[Face]
    tracks: list[Track]
    contacts: list[VisualContact]  # merged across tracks, sorted by time
    per_track_contacts: list[list[VisualContact]]
    gravity_px: float
    apertures: np.ndarray  # (faces, T)
    onsets_s: np.ndarray
    counts: dict[tuple[str, str], int]  # (colour, kind) → objects seen at once


@dataclass(frozen=True)
class Seen:
    """What prompt faithfulness reads from a clip: the coloured objects seen at once, the
    number of faces, and whether a mouth moves. A report row keeps it (under
    "detections"), so a clip can be judged against another prompt without reading it
    again (the mismatched peer)."""

    counts: dict[tuple[str, str], int]  # (colour, kind) → objects seen at once
    faces: int
    talking: bool

    @classmethod
    def of(cls, observed: Observed) -> Seen:
        apertures = observed.apertures
        talking = (
            bool(apertures.size)
            and float((apertures.max(axis=0) > SPEAKING_APERTURE).mean()) > 0.05
        )
        return cls(dict(observed.counts), len(observed.faces), talking)

    @classmethod
    def from_detections(cls, detections: dict[str, Any]) -> Seen:
        counts = {(o["color"], o["kind"]): int(o["count"]) for o in detections["objects"]}
        return cls(counts, int(detections["faces"]), bool(detections.get("talking", False)))


def observe(reading: Reading) -> Observed:
    frames = reading.frames
    faces = find_faces(frames)
    exclude = [face.body_box() for face in faces]
    per_frame = [detect(frame, exclude) for frame in frames]
    max_jump = 0.12 * max(frames.shape[1], frames.shape[2])
    tracks = [
        t
        for t in track(per_frame, max_jump)
        if t.frames_seen >= MIN_TRACK_SHARE * len(frames) or t.frames_seen >= 24
    ]
    gravity = gravity_estimate([t.xy for t in tracks])
    per_track = [find_contacts(t.xy, i, reading.fps, gravity) for i, t in enumerate(tracks)]
    contacts = _merge([c for cs in per_track for c in cs], 0.6 / reading.fps)
    apertures = (
        np.stack([mouth_apertures(frames, f) for f in faces])
        if faces
        else np.zeros((0, len(frames)))
    )
    onsets = onset_times(reading.audio, reading.sample_rate) if reading.audio.size else np.zeros(0)
    return Observed(
        reading,
        faces,
        tracks,
        contacts,
        per_track,
        gravity,
        apertures,
        onsets,
        _simultaneous_counts(per_frame),
    )


def evaluate_clip(
    path: Path, expected: Expected | None = None, cameo: np.ndarray | None = None
) -> ClipMetrics:
    """`cameo`: the appearance image (uint8 (h, w, 3)) of a character the clip was asked
    to show; its identity check fills `cameo`."""
    started = time.perf_counter()
    reading = read_clip(path)
    read_s = time.perf_counter() - started
    metrics = evaluate_reading(reading, expected, cameo)
    metrics.timings_s = {"read_s": read_s, "total_s": time.perf_counter() - started}
    return metrics


def evaluate_reading(
    reading: Reading, expected: Expected | None = None, cameo: np.ndarray | None = None
) -> ClipMetrics:
    started = time.perf_counter()
    observed = observe(reading)
    metrics = ClipMetrics()
    seen = Seen.of(observed)
    metrics.faithfulness = faithfulness(seen, expected) if expected else {}
    metrics.av_sync = av_sync(observed)
    metrics.lip_sync = lip_sync(observed)
    metrics.physics = physics(observed)
    metrics.temporal = temporal(reading)
    metrics.audio = audio_sanity(reading)
    metrics.cameo = cameo_identity(reading, cameo) if cameo is not None else {}
    metrics.detections = {
        "faces": seen.faces,
        "talking": seen.talking,
        "objects": [{"color": c, "kind": k, "count": n} for (c, k), n in seen.counts.items()],
        "visual_contacts_s": [round(c.time_s, 4) for c in observed.contacts],
        "audio_onsets_s": [round(float(t), 4) for t in observed.onsets_s],
    }
    metrics.timings_s = {"total_s": time.perf_counter() - started}
    return metrics


# -- 1. Prompt faithfulness -----------------------------------------------------------------


def faithfulness(
    seen: Seen, expected: Expected, scene_colours: frozenset[str] | None = None
) -> dict[str, Any]:
    """Fraction of the requested attributes that are present: for each object group its
    colour, its kind and its count; the number of characters; dialogue (mouths moving).

    With `scene_colours` (the colours the ceiling's clip of the prompt shows besides the
    asked ones: foliage, sky), also "no object of a colour nobody asked for": saturated
    noise shows every colour and passed "colour present" for free. Without a ceiling the
    check is left out, since the judge reads trees and grass as green objects."""
    checks: list[dict[str, Any]] = []
    for kind, color, count in expected.objects:
        found = {k: n for (c, k), n in seen.counts.items() if c == color}
        total = sum(found.values())
        main_kind = max(found, key=lambda k: found[k]) if found else None
        checks.append({"attribute": f"{color} present", "ok": total > 0})
        checks.append(
            {"attribute": f"{color} is {kind}", "ok": main_kind == kind, "found": main_kind}
        )
        checks.append({"attribute": f"{count} {color}", "ok": total == count, "found": total})
    if expected.objects and scene_colours is not None:
        asked = {color for _, color, _ in expected.objects} | scene_colours
        unasked = sorted(f"{n} {c} {k}" for (c, k), n in seen.counts.items() if c not in asked)
        checks.append({"attribute": "no colour unasked", "ok": not unasked, "found": unasked})
    if expected.characters is not None:
        checks.append(
            {
                "attribute": f"{expected.characters} characters",
                "ok": seen.faces == expected.characters,
                "found": seen.faces,
            }
        )
    if expected.dialogue:
        checks.append({"attribute": "dialogue spoken", "ok": seen.talking})
    score = float(np.mean([c["ok"] for c in checks])) if checks else float("nan")
    return {"score": score, "checks": checks}


# -- 2. AV sync ---------------------------------------------------------------------------------


def av_sync(observed: Observed) -> dict[str, Any]:
    """Visual contacts against audio onsets: nearest-onset error, and a one-to-one match
    at ±1 frame for precision, recall and F1. Onsets while someone talks are not
    candidates (speech has onsets that are not contacts)."""
    fps = observed.reading.fps
    visual = np.array([c.time_s for c in observed.contacts])
    onsets = observed.onsets_s
    if observed.apertures.size and onsets.size:
        talking = observed.apertures.max(axis=0) > SPEAKING_APERTURE
        frames = np.clip(np.round(onsets * fps).astype(int), 0, talking.size - 1)
        near_talk = np.array([talking[max(0, f - 3) : f + 4].any() for f in frames])
        onsets = onsets[~near_talk]
    result: dict[str, Any] = {"visual_contacts": int(visual.size), "audio_onsets": int(onsets.size)}
    if visual.size == 0 or onsets.size == 0:
        result.update(
            median_abs_ms=None, within_one_frame=None, precision=None, recall=None, f1=None
        )
        return result
    errors = np.array([np.min(np.abs(onsets - t)) for t in visual])
    matched = match_events(visual, onsets, 1.0 / fps)
    precision, recall = matched / onsets.size, matched / visual.size
    result.update(
        median_abs_ms=float(np.median(errors) * 1000),
        within_one_frame=float(np.mean(errors <= 1.0 / fps)),
        precision=float(precision),
        recall=float(recall),
        f1=float(2 * precision * recall / (precision + recall)) if matched else 0.0,
        errors_ms=[round(float(e) * 1000, 2) for e in errors],
    )
    return result


def match_events(a: np.ndarray, b: np.ndarray, tolerance: float) -> int:
    pairs = sorted(
        (abs(x - y), i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if abs(x - y) <= tolerance
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)


# -- 3. Lip sync --------------------------------------------------------------------------------


def speech_envelope(audio: np.ndarray, sample_rate: int, fps: float, frames: int) -> np.ndarray:
    """RMS per video frame of the speech band (250–4000 Hz) of the mono mix."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    spectrum = np.fft.rfft(mono)
    freqs = np.fft.rfftfreq(mono.size, 1.0 / sample_rate)
    spectrum[(freqs < 250) | (freqs > 4000)] = 0
    band = np.fft.irfft(spectrum, mono.size)
    half = int(sample_rate / fps / 2)
    centres = (np.arange(frames) * sample_rate / fps).astype(int)
    power = np.concatenate([[0.0], np.cumsum(band.astype(np.float64) ** 2)])
    lo = np.clip(centres - half, 0, mono.size)
    hi = np.clip(centres + half, 0, mono.size)
    return np.sqrt((power[hi] - power[lo]) / np.maximum(hi - lo, 1))


def lip_sync(observed: Observed, max_lag_frames: int = 6) -> dict[str, Any]:
    """Peak normalised cross-correlation of mouth opening (the widest open mouth per
    frame) against the speech envelope, and the lag of that peak (positive: the mouth
    moves after the sound)."""
    if not observed.apertures.size:
        return {"faces": 0, "correlation": None, "lag_ms": None}
    reading = observed.reading
    opening = observed.apertures.max(axis=0)
    if float((opening > SPEAKING_APERTURE).mean()) < 0.02:
        return {
            "faces": len(observed.faces),
            "correlation": None,
            "lag_ms": None,
            "note": "no mouth opens",
        }
    envelope = speech_envelope(reading.audio, reading.sample_rate, reading.fps, opening.size)
    best, best_lag = -1.0, 0
    for lag in range(-max_lag_frames, max_lag_frames + 1):
        a = opening[max(0, lag) : opening.size + min(0, lag)]
        b = envelope[max(0, -lag) : envelope.size + min(0, -lag)]
        if a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best:
            best, best_lag = r, lag
    return {
        "faces": len(observed.faces),
        "correlation": best,
        "lag_ms": best_lag * 1000.0 / reading.fps,
    }


# -- 4. Physics ----------------------------------------------------------------------------------


def physics(observed: Observed) -> dict[str, Any]:
    reading = observed.reading
    fit = flight_fit(
        [t.xy for t in observed.tracks],
        observed.per_track_contacts,
        observed.gravity_px,
        reading.scale,
    )
    bounces = [c for cs in observed.per_track_contacts for c in cs if c.floor_bounce]
    gains = [c for c in bounces if c.speed_after > 1.1 * c.speed_before + 1.0]
    return {
        "gravity_px_s2": observed.gravity_px * reading.scale * reading.fps**2,
        "flight_residual_px": fit.residual_px,
        "flight_segments": fit.segments,
        "bounces": len(bounces),
        "energy_gain_fraction": (len(gains) / len(bounces)) if bounces else None,
    }


# -- 5. Temporal stability -------------------------------------------------------------------------


def temporal(reading: Reading) -> dict[str, Any]:
    """Flicker: mean absolute luma change between consecutive frames over pixels that never
    change by more than STATIC_LEVELS through the clip (0..255; computed at half the
    reading's size). Frozen: share of frames identical to the previous one (a scene at
    rest counts too)."""
    frames = reading.frames
    if len(frames) < 3:
        return {"flicker": None, "static_share": None, "frozen_fraction": None}
    h, w = frames.shape[1] // 2, frames.shape[2] // 2
    luma = [
        cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (w, h), interpolation=cv2.INTER_AREA)
        for f in frames
    ]
    diffs = np.stack([cv2.absdiff(a, b) for a, b in itertools.pairwise(luma)])
    static = diffs.max(axis=0) <= STATIC_LEVELS  # (h, w)
    flicker = float(diffs[:, static].mean()) if static.any() else float("nan")
    frozen = float((diffs.reshape(len(diffs), -1).max(axis=1) <= 1).mean())
    return {"flicker": flicker, "static_share": float(static.mean()), "frozen_fraction": frozen}


# -- 6. Audio sanity -----------------------------------------------------------------------------


def audio_sanity(reading: Reading) -> dict[str, Any]:
    audio = reading.audio
    if not audio.size:
        return {"clipping_fraction": None, "silence_ratio": 1.0, "rms_dbfs": None}
    mono = audio.mean(axis=0)
    window = int(0.05 * reading.sample_rate)
    n = mono.size // window
    rms = np.sqrt((mono[: n * window].reshape(n, window) ** 2).mean(axis=1)) if n else np.zeros(1)
    return {
        "clipping_fraction": float((np.abs(audio) >= 0.999).mean()),
        "silence_ratio": float((rms < 10 ** (-60 / 20)).mean()),
        "rms_dbfs": float(20 * np.log10(np.sqrt((mono**2).mean()) + 1e-12)),
    }


# -- 7. Cameo identity ----------------------------------------------------------------------------


def cameo_identity(reading: Reading, reference: np.ndarray) -> dict[str, Any]:
    """Whether a character of the clip looks like the one in `reference` (eval/identity.py):
    its skin, hair and shirt colours within a CIELAB distance, allowing for a change of
    light."""
    match = identity_score(reading.frames, reference)
    closest = match.matches[0] if match.matches else None
    return {
        "found": match.found,
        "score": match.score,
        "distance": match.distance,
        "characters": len(match.matches),
        "delta_e": closest.delta_e if closest else None,
        "reason": match.reason or None,
    }


# -- helpers ---------------------------------------------------------------------------------


def _merge(contacts: list[VisualContact], within_s: float) -> list[VisualContact]:
    """One event where several tracks show the same contact (two objects colliding)."""
    merged: list[VisualContact] = []
    for contact in sorted(contacts, key=lambda c: c.time_s):
        if merged and contact.time_s - merged[-1].time_s <= within_s:
            continue
        merged.append(contact)
    return merged


def _simultaneous_counts(per_frame: list[list[Any]]) -> dict[tuple[str, str], int]:
    """Per (colour, kind): the most objects seen at once for at least SUSTAIN frames in a
    row. Objects that touch merge into one region, so the count over a whole clip is the
    largest one that holds; a stray detection in a frame or two does not."""
    keys = {(d.color, d.kind) for detections in per_frame for d in detections}
    counts = {}
    for key in keys:
        series = np.array(
            [sum(1 for d in detections if (d.color, d.kind) == key) for detections in per_frame]
        )
        if series.size >= SUSTAIN:
            windows = np.lib.stride_tricks.sliding_window_view(series, SUSTAIN).min(axis=1)
            n = int(windows.max())
        else:
            n = int(series.min())
        if n > 0:
            counts[key] = n
    # A kind seen only now and then beside a main kind of the same colour is a misreading
    # of the same objects (a ball half hidden looks like a box): fold it into the main one.
    by_color: dict[str, list[tuple[str, int]]] = {}
    for (color, kind), n in counts.items():
        by_color.setdefault(color, []).append((kind, n))
    folded = {}
    for color, kinds in by_color.items():
        kinds.sort(key=lambda item: -item[1])
        folded[(color, kinds[0][0])] = kinds[0][1]
    return folded
