"""Whether a clip acts out a suite row's verbs, from the things' tracks (eval/assets.py),
the faces (eval/characters.py) and the audio onsets (eval/onsets.py) alone.

Each action names a behaviour, a subject and maybe an object (nouns of the row). The
thing whose motion shows the behaviour is the subject when the subject is a thing of the
row, else the object (a girl plays the piano: the piano; a chef flips a pancake: the
pancake). People are found by their faces, which do not move, so a person's own motion
(a man walks) cannot be checked and is `None`.

| behaviour | realised when |
|---|---|
| launch | the thing rises by LAUNCH_RISE of the frame's height |
| fall | it descends by FALL_DROP of the frame's height |
| bounce | it descends, then rises again by BOUNCE_RISE of the frame's height |
| jump | it rises by JUMP_RISE of its own height and comes down again |
| fly, glide | it moves sideways by TRAVEL of the frame's width, above the floor line |
| walk, run, drive, swim, hop, roll, slide, float | it moves sideways by TRAVEL of the width |
| chase, follow | both move sideways by TRAVEL, mostly the same way (SAME_WAY_SHARE) |
| crash | two things (subject and object, or two of the subject) touch, and an audio onset |
| | lies within CRASH_ONSET_FRAMES of when they do |
| catch | the object's distance to the catcher was large and then stays small and steady |
| throw | the thing moves along an arc: sideways by TRAVEL, up and then down |
| spin, flip | its drawing turns by TURN_DEG in all |
| sway | it rocks: its position reverses at least twice, by a little |
| play | the instrument is seen and the audio has a regular run of onsets (notes) |
| sit, idle, gesture | the subject is seen |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from reelforge.eval.assets import AssetTrack, ThingFound
from reelforge.eval.characters import Face

LAUNCH_RISE = 0.30  # of the frame's height
FALL_DROP = 0.10
BOUNCE_RISE = 0.03
JUMP_RISE = 0.30  # of the thing's height
TRAVEL = 0.10  # of the frame's width
SAME_WAY_SHARE, SAME_WAY_MIN = 0.7, 0.005  # a chase: share of stretches; least move, of width
FLOOR_MARGIN = 0.03  # of the frame's height: a flier's bottom is this far above the floor
TOUCH_SLACK = 1.15  # boxes within this factor of touching touch
CRASH_ONSET_FRAMES = 2.0
CATCH_NEAR_HEIGHTS = 1.2  # caught: within this many catcher heights of the catcher ...
CATCH_STEADY_HEIGHTS = 0.35  # ... moving with it (spread of the offset, in its heights)
CATCH_FAR_RATIO = 2.0  # ... after being at least this much farther before
ARC_RISE = 0.04  # of the frame's height, each side of the arc's top
TURN_DEG = 180.0
SWAY_MIN_PX = 3.0  # peak to peak, original px
SWAY_MAX = 0.15  # of the frame's width
PLAY_MIN_NOTES = 4
PLAY_REGULARITY = 0.5  # coefficient of variation of the intervals between notes
PLAY_INTERVAL_S = (0.08, 1.2)

TRAVELLING = ("walk", "run", "drive", "swim", "hop", "roll", "slide", "float")
PRESENT = ("sit", "idle", "gesture")


@dataclass(frozen=True)
class ActionCheck:
    verb: str
    behaviour: str
    subject: str
    obj: str | None  # the action's object
    realised: bool | None  # None: not checkable from pixels and sound
    reason: str

    def to_dict(self) -> dict[str, object]:
        fields = asdict(self)
        fields["object"] = fields.pop("obj")
        return fields


@dataclass(frozen=True)
class Scene:
    """What the checks know of the clip besides the things."""

    width: int  # original px
    height: int
    fps: float
    onsets_s: np.ndarray  # audio onsets
    faces_xy: tuple[tuple[float, float, float], ...]  # (x, y, head radius), original px
    floor_y: float | None  # the floor line, original px from the top


def check_action(
    behaviour: str,
    verb: str,
    subject: str,
    obj: str | None,
    found: Mapping[str, ThingFound],
    scene: Scene,
) -> ActionCheck:
    """Check one action; `found` maps the row's thing nouns to what the search found."""

    def result(realised: bool | None, reason: str) -> ActionCheck:
        return ActionCheck(verb, behaviour, subject, obj, realised, reason)

    subject_is_thing = subject in found
    object_is_thing = obj is not None and obj in found
    # 1. Presence: the subject is seen (a thing found, or for a person, a face).
    if behaviour in PRESENT:
        if subject_is_thing:
            seen = found[subject].found
            return result(seen, f"{subject} {'seen' if seen else 'not seen'}")
        seen = bool(scene.faces_xy)
        return result(seen, f"{'a person' if seen else 'no person'} seen ({subject})")
    if behaviour == "play":
        if not (object_is_thing or subject_is_thing):
            return result(None, "no instrument among the row's things")
        instrument = obj if object_is_thing and obj is not None else subject
        if not found[instrument].found:
            return result(False, f"{instrument} not seen")
        return result(*_notes(scene.onsets_s))
    # 2. The two-thing behaviours.
    if behaviour == "crash":
        return result(*_crash(subject, obj, found, scene))
    if behaviour == "catch":
        return result(*_catch(subject, obj, found, scene))
    if behaviour in ("chase", "follow"):
        if not (subject_is_thing and object_is_thing and obj is not None):
            return result(None, "chaser or chased is not a thing of the row")
        return result(*_chase(found[subject], found[obj], scene))
    # 3. One thing's motion: the subject, or the object a person acts on.
    if subject_is_thing:
        mover = subject
    elif object_is_thing and obj is not None and behaviour in (
        "throw", "flip", "spin", "launch", "drive", "glide", "fly", "slide", "roll", "fall",
        "bounce", "float",
    ):  # fmt: skip
        mover = obj
    else:
        return result(None, f"{subject} is a person; the judge does not track people's motion")
    thing = found[mover]
    track = thing.main_track()
    if track is None:
        return result(False, f"{mover} not seen")
    if len(track.detections) < 3:
        return result(False, f"{mover} seen on too few frames ({len(track.detections)}) to move")
    return result(*_motion(behaviour, mover, track, scene))


def _motion(behaviour: str, name: str, track: AssetTrack, scene: Scene) -> tuple[bool, str]:
    xy = track.xy
    x, y = xy[:, 0], xy[:, 1]
    sideways = float(np.ptp(x)) / scene.width
    if behaviour == "launch":
        rise = _largest_rise(y) / scene.height
        return (
            rise >= LAUNCH_RISE,
            f"{name} rises {rise:.0%} of the frame (needs {LAUNCH_RISE:.0%})",
        )
    if behaviour in ("fall", "bounce"):
        drop = _largest_drop(y) / scene.height
        if drop < FALL_DROP:
            return False, f"{name} descends {drop:.0%} of the frame (needs {FALL_DROP:.0%})"
        if behaviour == "fall":
            return True, f"{name} descends {drop:.0%} of the frame"
        # Bounced: up again after a low point reached by such a drop.
        dropped = y - np.minimum.accumulate(y) >= FALL_DROP * scene.height
        up_after = y - np.minimum.accumulate(y[::-1])[::-1]  # rise still to come, per sample
        rebound = float(up_after[dropped].max()) / scene.height
        return rebound >= BOUNCE_RISE, (
            f"{name} descends {drop:.0%} and rises again {rebound:.0%} of the frame "
            f"(needs {BOUNCE_RISE:.0%})"
        )
    if behaviour == "jump":
        height = float(np.median(track.heights))
        rise = _largest_rise(y) / height
        back = _largest_drop(y[int(np.argmin(y)) :]) / height
        ok = rise >= JUMP_RISE and back >= JUMP_RISE / 2
        return ok, f"{name} rises {rise:.2f} and comes down {back:.2f} of its height"
    if behaviour in ("fly", "glide"):
        bottom = y + 0.5 * track.heights
        floor = scene.floor_y if scene.floor_y is not None else 0.75 * scene.height
        above = float(np.mean(bottom < floor - FLOOR_MARGIN * scene.height))
        ok = sideways >= TRAVEL and above >= 0.5
        return ok, (
            f"{name} moves {sideways:.0%} of the width, above the floor on {above:.0%} of its "
            f"frames (needs {TRAVEL:.0%} and half)"
        )
    if behaviour in TRAVELLING:
        return sideways >= TRAVEL, f"{name} moves {sideways:.0%} of the width (needs {TRAVEL:.0%})"
    if behaviour == "throw":
        return _arc(name, track, scene)
    if behaviour in ("spin", "flip"):
        turned = float(np.ptp(track.angles_deg))
        return turned >= TURN_DEG, f"{name} turns {turned:.0f}° (needs {TURN_DEG:.0f}°)"
    if behaviour == "sway":
        return _sway(name, x, scene)
    return False, f"unknown behaviour {behaviour!r}"


def _largest_rise(y: np.ndarray) -> float:
    """The most the track goes up (y decreases) from an earlier to a later sample."""
    if y.size < 2:
        return 0.0
    return float(np.max(np.maximum.accumulate(y) - y))


def _largest_drop(y: np.ndarray) -> float:
    """The most the track goes down (y increases) from an earlier to a later sample."""
    if y.size < 2:
        return 0.0
    return float(np.max(y - np.minimum.accumulate(y)))


def _arc(name: str, track: AssetTrack, scene: Scene) -> tuple[bool, str]:
    """Thrown: sideways by TRAVEL, and a top with the path ARC_RISE lower on both sides."""
    x, y = track.xy[:, 0], track.xy[:, 1]
    top = int(np.argmin(y))
    before = float(np.max(y[: top + 1]) - y[top]) / scene.height
    after = float(np.max(y[top:]) - y[top]) / scene.height
    sideways = float(np.ptp(x)) / scene.width
    ok = sideways >= TRAVEL and min(before, after) >= ARC_RISE
    return ok, (
        f"{name} moves {sideways:.0%} of the width; its path rises {before:.0%} and falls "
        f"{after:.0%} of the height about its top (needs {TRAVEL:.0%} and {ARC_RISE:.0%})"
    )


def _sway(name: str, x: np.ndarray, scene: Scene) -> tuple[bool, str]:
    smooth = np.convolve(x, np.ones(3) / 3, mode="valid") if x.size >= 5 else x
    steps = np.diff(smooth)
    steps = steps[np.abs(steps) > 0.2]  # px: still samples say nothing of the direction
    reversals = int(np.sum(np.diff(np.sign(steps)) != 0)) if steps.size > 1 else 0
    span = float(np.ptp(smooth))
    ok = reversals >= 2 and SWAY_MIN_PX <= span <= SWAY_MAX * scene.width
    return ok, f"{name} reverses {reversals} times over {span:.0f} px"


def _notes(onsets_s: np.ndarray) -> tuple[bool, str]:
    """A run of notes: at least PLAY_MIN_NOTES onsets whose intervals are regular."""
    if onsets_s.size < PLAY_MIN_NOTES:
        return False, f"{onsets_s.size} audio onsets (needs {PLAY_MIN_NOTES} notes)"
    gaps = np.diff(np.sort(onsets_s))
    gaps = gaps[(gaps >= PLAY_INTERVAL_S[0]) & (gaps <= PLAY_INTERVAL_S[1])]
    if gaps.size < PLAY_MIN_NOTES - 1:
        return False, f"{gaps.size + 1} onsets at a playing pace"
    # The commonest interval and its multiples (a rest) are regular.
    beat = float(np.median(gaps))
    phase = gaps / beat
    irregular = float(np.mean(np.abs(phase - np.round(phase)))) * 2
    ok = irregular <= PLAY_REGULARITY
    return ok, f"{gaps.size + 1} onsets, {beat * 1000:.0f} ms apart, irregularity {irregular:.2f}"


def _pair(
    subject: str, obj: str | None, found: Mapping[str, ThingFound]
) -> tuple[AssetTrack, AssetTrack] | str:
    """The two tracks of a two-thing action: subject and object, or the subject's two
    longest tracks ("two cars crash"); or why there are not two."""
    if subject not in found:
        return f"{subject} is not a thing of the row"
    if not found[subject].found:
        return f"{subject} not seen"
    if obj is not None and obj in found:
        if not found[obj].found:
            return f"{obj} not seen"
        a, b = found[subject].main_track(), found[obj].main_track()
        assert a is not None and b is not None
        return a, b
    tracks = sorted(found[subject].tracks, key=lambda t: -len(t.detections))
    if len(tracks) < 2:
        return f"one {subject} seen; two are needed"
    return tracks[0], tracks[1]


def _common(a: AssetTrack, b: AssetTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames both tracks have, and their positions there."""
    frames, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
    return frames, a.xy[ia], b.xy[ib]


def _crash(
    subject: str, obj: str | None, found: Mapping[str, ThingFound], scene: Scene
) -> tuple[bool | None, str]:
    pair = _pair(subject, obj, found)
    if isinstance(pair, str):
        if "not a thing" in pair:
            return None, pair
        return False, pair
    a, b = pair
    frames, pa, pb = _common(a, b)
    if frames.size < 3:
        return False, "the two are seen together on too few frames"
    gap = np.abs(pa - pb)  # (N, 2)
    # Touching: the drawings' boxes (as drawn, unturned) overlap, with some slack.
    half = 0.5 * np.array(
        [float(np.median(a.widths) + np.median(b.widths)),
         float(np.median(a.heights) + np.median(b.heights))]
    )  # fmt: skip
    ratio = np.max(gap / half, axis=1)  # 1: the boxes touch
    touch_frame = _touching(frames, ratio)
    if touch_frame is None:
        return False, f"the two come no closer than {float(ratio.min()):.2f}x touching"
    time_s = touch_frame / scene.fps
    if not scene.onsets_s.size:
        return False, "they touch, but there is no sound"
    error = float(np.min(np.abs(scene.onsets_s - time_s)))
    ok = error <= CRASH_ONSET_FRAMES / scene.fps
    return ok, (
        f"they touch at {time_s:.2f} s; nearest audio onset {error * 1000:.0f} ms away "
        f"(needs {CRASH_ONSET_FRAMES / scene.fps * 1000:.0f})"
    )


def _touching(frames: np.ndarray, ratio: np.ndarray) -> float | None:
    """The frame (fractional) at which two boxes first touch, or None if they never do.
    `ratio` is their gap over touching distance on common sampled `frames`; samples are a
    few frames apart, so the approach is extended as a line to where it reaches 1 (the
    frames just before and after contact are often missed: the two blur into one)."""
    k = int(np.argmin(ratio))
    start = max(0, k - 3)
    approach = slice(start, k + 1)
    if k - start >= 1 and np.all(np.diff(ratio[approach]) < 0):
        slope, intercept = np.polyfit(frames[approach], ratio[approach], 1)
        reach = (1.0 - intercept) / slope  # frame where the line reaches touching
        spacing = float(np.median(np.diff(frames)))
        if frames[start] <= reach <= frames[k] + 1.5 * spacing:
            return float(reach)
    return float(frames[k]) if ratio[k] <= TOUCH_SLACK else None


def _catch(
    subject: str, obj: str | None, found: Mapping[str, ThingFound], scene: Scene
) -> tuple[bool | None, str]:
    if obj is None or obj not in found:
        return None, "nothing of the row to catch"
    thrown = found[obj].main_track()
    if thrown is None:
        return False, f"{obj} not seen"
    if subject in found:
        catcher = found[subject].main_track()
        if catcher is None:
            return False, f"{subject} not seen"
        frames, pc, pt = _common(catcher, thrown)
        size = float(np.median(catcher.heights))
    elif scene.faces_xy:  # a person: the face nearest the thing's last place
        last = thrown.xy[-1]
        x, y, radius = min(
            scene.faces_xy, key=lambda f: float(np.hypot(f[0] - last[0], f[1] - last[1]))
        )
        frames, pt = thrown.frames, thrown.xy
        pc = np.tile([x, y + 2.0 * radius], (len(frames), 1))  # the hands, below the face
        size = 6.0 * radius
    else:
        return False, f"{subject} not seen"
    if frames.size < 4:
        return False, f"{subject} and {obj} seen together on too few frames"
    offset = pt - pc
    distance = np.hypot(*offset.T)
    late = slice(int(0.6 * frames.size), None)  # the last 40 % of their common frames
    early = slice(0, max(1, int(0.3 * frames.size)))
    near = float(np.median(distance[late])) / size
    steady = float(np.max(np.std(offset[late], axis=0))) / size
    far = float(np.max(distance[early])) / max(float(np.median(distance[late])), 1.0)
    ok = near <= CATCH_NEAR_HEIGHTS and steady <= CATCH_STEADY_HEIGHTS and far >= CATCH_FAR_RATIO
    return ok, (
        f"at the end {obj} is {near:.2f} catcher heights away, moving with it by "
        f"{steady:.2f}; earlier {far:.1f}x farther (needs ≤ {CATCH_NEAR_HEIGHTS}, "
        f"≤ {CATCH_STEADY_HEIGHTS}, ≥ {CATCH_FAR_RATIO})"
    )


def _chase(chaser: ThingFound, chased: ThingFound, scene: Scene) -> tuple[bool, str]:
    a, b = chaser.main_track(), chased.main_track()
    if a is None or b is None:
        return False, f"{(chased if a is not None else chaser).noun} not seen"
    frames, pa, pb = _common(a, b)
    if frames.size < 4:
        return False, "the two are seen together on too few frames"
    moves = min(float(np.ptp(pa[:, 0])), float(np.ptp(pb[:, 0]))) / scene.width
    # The same way: over each stretch of a few samples, both went left or both went right.
    # (Correlating their velocities fails a steady chase: at constant speeds the velocities
    # vary only by detection noise.)
    k = min(3, frames.size - 1)
    da, db = pa[k:, 0] - pa[:-k, 0], pb[k:, 0] - pb[:-k, 0]
    moving = (np.abs(da) > SAME_WAY_MIN * scene.width) & (np.abs(db) > SAME_WAY_MIN * scene.width)
    together = float(np.mean(np.sign(da[moving]) == np.sign(db[moving]))) if moving.any() else 0.0
    ok = moves >= TRAVEL and together >= SAME_WAY_SHARE
    return ok, (
        f"both move {moves:.0%} of the width; the same way on {together:.0%} of the "
        f"stretches where both move (needs {TRAVEL:.0%} and {SAME_WAY_SHARE:.0%})"
    )


def floor_line(frames: np.ndarray, scale: float) -> float | None:
    """The floor line in original px: the strongest long horizontal edge in the lower 70 %
    of the clip's median frame (scenes are painted with a floor band), or None."""
    if len(frames) == 0:
        return None
    median = np.median(frames[:: max(1, len(frames) // 8)], axis=0).astype(np.float32)
    grey = cv2.cvtColor(median, cv2.COLOR_RGB2GRAY)
    rows = np.abs(np.diff(cv2.GaussianBlur(grey, (0, 0), 1.5), axis=0)).mean(axis=1)
    top = int(0.3 * len(rows))
    k = top + int(np.argmax(rows[top:]))
    if rows[k] < 2.0:  # levels: no clear line
        return None
    return (k + 1) * scale


def faces_of(faces: Sequence[Face], scale: float) -> tuple[tuple[float, float, float], ...]:
    """(x, y, head radius) in original px of the faces found at the reading's scale."""
    return tuple((f.x * scale, f.y * scale, f.radius * scale) for f in faces)
