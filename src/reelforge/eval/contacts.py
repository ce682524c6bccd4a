"""Contacts seen in the picture, and how well free flight fits constant gravity.

From a track's centres (T, 2) at the reading's scale:

1. Acceleration a[t] = xy[t+1] − 2·xy[t] + xy[t−1]. In free flight it is the same vector
   (gravity) every frame; the typical one is the median over moving frames.
2. A contact is where the acceleration departs from gravity by more than a threshold
   while the object moves: a bounce, a collision, a landing. Runs of such frames are one
   contact, at their peak.
3. Sub-frame time: quadratics fitted to the positions just before and just after the
   contact are intersected; where they meet is when the contact happened. Their
   velocities there must differ: a spike with the same motion on both sides is a
   position outlier (a region that split for a frame), not a contact.

Free-flight segments between contacts are refitted with one shared gravity; the residual
(in pixels of the original video) measures how well motion obeys constant gravity.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MIN_MOVING_PX = 0.6  # per frame, at the reading's scale
MIN_JOLT_PX = 1.8  # departure from gravity that counts as a contact, per frame²


@dataclass(frozen=True)
class VisualContact:
    time_s: float
    frame: int
    track: int
    speed_before: float  # px/frame at the reading's scale
    speed_after: float
    floor_bounce: bool  # vertical motion reversed from down to up


@dataclass(frozen=True)
class FlightFit:
    gravity_px: float  # px/frame², at the reading's scale, positive down
    residual_px: float  # RMS residual of all free-flight segments, original pixels
    segments: int


def gravity_estimate(tracks_xy: list[np.ndarray]) -> float:
    """The downward acceleration of free flight (px/frame²): the mode of vertical
    acceleration over frames where an object moves with no sideways acceleration. Frames
    in contact (pushed, rolling, tumbling) spread widely; free flight piles up at g."""
    samples = []
    for xy in tracks_xy:
        accel = xy[2:] - 2 * xy[1:-1] + xy[:-2]  # (T-2, 2)
        speed = np.linalg.norm(xy[1:-1] - xy[:-2], axis=1)
        ok = np.isfinite(accel).all(axis=1) & (speed > 2 * MIN_MOVING_PX)
        ok &= np.abs(accel[:, 0]) < 0.5
        samples.extend(accel[ok, 1].tolist())
    if len(samples) < 5:
        return 0.0
    values = np.array(samples)
    bins = np.arange(np.percentile(values, 2) - 0.1, np.percentile(values, 98) + 0.2, 0.1)
    if bins.size < 3:
        return float(np.median(values))
    counts, edges = np.histogram(values, bins=bins)
    smooth = np.convolve(counts, np.ones(3), mode="same")
    peak = int(np.argmax(smooth))
    near = values[
        (values >= edges[max(0, peak - 1)]) & (values <= edges[min(len(edges) - 1, peak + 2)])
    ]
    return float(np.median(near))


def find_contacts(
    xy: np.ndarray, track_index: int, fps: float, gravity: float
) -> list[VisualContact]:
    frame_count = xy.shape[0]
    accel = np.full((frame_count, 2), np.nan)
    accel[1:-1] = xy[2:] - 2 * xy[1:-1] + xy[:-2]
    velocity = np.full((frame_count, 2), np.nan)
    velocity[1:] = xy[1:] - xy[:-1]  # velocity[t]: from t-1 to t
    jolt = np.linalg.norm(accel - (0.0, gravity), axis=1)
    moving = np.zeros(frame_count, bool)
    moving[1:-1] = (np.linalg.norm(velocity[1:-1], axis=1) > MIN_MOVING_PX) | (
        np.linalg.norm(velocity[2:], axis=1) > MIN_MOVING_PX
    )
    hot = np.nan_to_num(jolt, nan=0.0) > MIN_JOLT_PX
    hot &= moving
    contacts = []
    t = 1
    while t < frame_count - 1:
        if not hot[t]:
            t += 1
            continue
        end = t
        while end + 1 < frame_count - 1 and hot[end + 1]:
            end += 1
        peak = t + int(np.argmax(np.nan_to_num(jolt[t : end + 1])))
        time_frames, before, after = _intersect(xy, peak)
        t = end + 2
        if np.linalg.norm(after - before) < 0.5 * MIN_JOLT_PX:
            continue  # a position outlier (a region split for a frame), not a change of motion
        contacts.append(
            VisualContact(
                time_s=time_frames / fps,
                frame=peak,
                track=track_index,
                speed_before=float(np.linalg.norm(before)),
                speed_after=float(np.linalg.norm(after)),
                floor_bounce=bool(before[1] > MIN_MOVING_PX and after[1] < -MIN_MOVING_PX),
            )
        )
    return contacts


def _intersect(xy: np.ndarray, peak: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Sub-frame contact time near `peak` (frames), where the paths before and after meet,
    and the velocities (px/frame) of those paths at that instant."""
    velocity_before = xy[peak] - xy[peak - 1] if peak > 0 else np.zeros(2)
    velocity_after = xy[min(peak + 1, len(xy) - 1)] - xy[peak]
    best = (float(peak), velocity_before, velocity_after)
    best_error = np.inf
    frame_count = xy.shape[0]
    for split in (peak - 1, peak):  # the contact lies between `split` and `split + 1`
        pre = np.arange(max(0, split - 3), split + 1)
        post = np.arange(split + 1, min(frame_count, split + 5))
        pre = pre[np.isfinite(xy[pre, 0])]
        post = post[np.isfinite(xy[post, 0])]
        if len(pre) < 3 or len(post) < 3:
            continue
        fit_pre = [np.polyfit(pre, xy[pre, d], 2) for d in (0, 1)]
        fit_post = [np.polyfit(post, xy[post, d], 2) for d in (0, 1)]
        times = np.linspace(split, split + 1, 41)
        gap = np.zeros_like(times)  # squared distance between the two paths, per time
        for a, b in zip(fit_pre, fit_post, strict=True):
            gap += (np.polyval(a, times) - np.polyval(b, times)) ** 2
        k = int(np.argmin(gap))
        residual = sum(
            float(np.sum((np.polyval(f, idx) - xy[idx, d]) ** 2))
            for fits, idx in ((fit_pre, pre), (fit_post, post))
            for d, f in enumerate(fits)
        )
        error = float(gap[k]) + residual
        if error < best_error:
            best_error = error
            moment = float(times[k])
            best = (
                moment,
                np.array([np.polyval(np.polyder(f), moment) for f in fit_pre]),
                np.array([np.polyval(np.polyder(f), moment) for f in fit_post]),
            )
    return best


def flight_fit(
    tracks_xy: list[np.ndarray], contacts: list[list[VisualContact]], gravity: float, scale: int
) -> FlightFit:
    """RMS residual of free-flight segments (≥ 6 frames, moving, between contacts) fitted
    with the one shared gravity and their own starting position and velocity."""
    residuals: list[np.ndarray] = []
    segments = 0
    for xy, track_contacts in zip(tracks_xy, contacts, strict=True):
        breaks = sorted({c.frame for c in track_contacts})
        edges = [-1, *breaks, xy.shape[0]]
        for start, stop in itertools.pairwise(edges):
            frames = np.arange(start + 2, stop - 1)  # keep clear of the contacts themselves
            frames = frames[np.isfinite(xy[frames, 0])] if frames.size else frames
            if frames.size < 6:
                continue
            if np.ptp(xy[frames, 1]) < 6 * MIN_MOVING_PX:
                continue  # resting or rolling on the floor: not flight
            if np.any(np.diff(frames) != 1):
                continue
            t = frames - frames[0]
            design = np.stack([np.ones_like(t), t], axis=1).astype(float)  # (n, 2)
            for d, g in ((0, 0.0), (1, gravity)):
                target = xy[frames, d] - 0.5 * g * t**2
                coef, *_ = np.linalg.lstsq(design, target, rcond=None)
                residuals.append(target - design @ coef)
            segments += 1
    if not residuals:
        return FlightFit(gravity, float("nan"), 0)
    flat = np.concatenate(residuals)
    return FlightFit(gravity, float(np.sqrt(np.mean(flat**2))) * scale, segments)
