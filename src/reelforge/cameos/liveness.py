"""Checking a verification take against its challenge (docs/CAMEOS.md, "Verification").

The server issues a `Challenge`: six random digits to read aloud and an order of two head
turns. The person records one take of 5 to 15 seconds. `check_take` then, offline:

1. Reads the take (cameos/take.py): frames at up to 15 fps and 320 px wide, the audio at
   16 kHz mono. A file that is not a readable video with audio, or is too short or too
   long, raises MediaError(param="take") instead of giving a verdict: it is bad input,
   not a failed check.
2. Follows the face through it (cameos/track.py: MTCNN with five landmarks).
3. Runs six checks, each with its own result and a readable reason:
   - digits: PocketSphinx with a digits-only grammar (cameos/digits.py) must hear exactly
     the challenge's digits, in order;
   - head_turns: the yaw from the landmarks must swing beyond TURN_YAW one way and back,
     then the other way, in the challenge's order;
   - same_face: one face throughout: found in most frames, no second face, no jump, and
     the face's colours and texture in the first part of the take match the rest;
   - lip_sync: how open the mouth is (its dark inside) must follow the audio's loudness,
     at a lag of at most ±200 ms;
   - face_quality: eyes at least 8 % of the frame's width apart, the face lit and with
     contrast;
   - readable: the take was decoded (always passes: unreadable takes raised in step 1).
4. Estimates the Likeness the sim draws the person with (cameos/appearance.py).

Yaw and "left". Yaw is measured on the frames as recorded, not mirrored: the nose's offset
from the midpoint of the eyes, over the distance between the eyes. A turn to the person's
own left moves their nose towards the image's right (positive yaw). A web page may mirror
its preview (CSS) so the person sees themselves as in a mirror, but must upload the frames
as the camera gives them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reelforge.cameos.appearance import estimate_likeness
from reelforge.cameos.digits import hear_digits
from reelforge.cameos.faces import Face
from reelforge.cameos.likeness import Likeness
from reelforge.cameos.take import AUDIO_RATE, Take, read_take
from reelforge.cameos.track import FaceTrack, track_face

DIGIT_COUNT = 6
TURN_DIRECTIONS = ("left", "right")

# head_turns: a turn is the yaw ratio (nose offset / eye distance) away from the take's
# resting value by more than TURN_YAW, then back within RETURN_YAW. A real 25-30° turn
# gives about 0.3-0.5; talking and nodding stay under 0.1.
TURN_YAW = 0.12
RETURN_YAW = 0.06
# same_face
MIN_FACE_PRESENCE = 0.8  # of the analysed frames
SAME_FACE_MAX_DISTANCE = 3.0  # descriptor distance between the take's parts (see below)
# lip_sync
MAX_LAG_S = 0.2
MIN_SYNC_CORRELATION = 0.5
# The mouth region and the skin it is compared with, in eye distances about the mouth's
# place (x across, y down), and how much darker than that skin a pixel of an open mouth is.
MOUTH_REGION = (-0.4, -0.15, 0.4, 0.45)
UPPER_LIP_REGION = (-0.4, -0.6, 0.4, -0.25)
MOUTH_DARK = 0.6
# face_quality
MIN_EYE_DISTANCE_FRACTION = 0.08
MIN_FACE_LUMA = 50.0
MAX_FACE_LUMA = 225.0
MIN_FACE_CONTRAST = 18.0


@dataclass(frozen=True)
class Challenge:
    digits: str  # six digits, read aloud one by one: "471930"
    turns: tuple[str, ...]  # the order of the head turns: ("left", "right")

    def spoken(self) -> str:
        return " ".join(self.digits)


@dataclass(frozen=True)
class Check:
    name: str  # "digits", "head_turns", "same_face", "lip_sync", "face_quality", "readable"
    passed: bool
    detail: str  # why, with the measured values


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    likeness: Likeness | None  # how the person looks and sounds, when a face was found

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)


def new_challenge(rng: secrets.SystemRandom | None = None) -> Challenge:
    """Six random digits and the two turns in a random order."""
    rng = rng or secrets.SystemRandom()
    digits = "".join(str(rng.randrange(10)) for _ in range(DIGIT_COUNT))
    turns = tuple(rng.sample(TURN_DIRECTIONS, k=len(TURN_DIRECTIONS)))
    return Challenge(digits=digits, turns=turns)


def check_take(path: Path, challenge: Challenge) -> Verdict:
    """Every check of the take at `path` against `challenge`. Raises MediaError(param="take")
    for a file that is not a readable 5-15 s video with audio."""
    # 1. Read the take
    take = read_take(path)
    # 2. Follow the face
    track = track_face(take.frames, take.times_s)
    # 3. The checks
    yaw = _yaw_series(track)
    checks = (
        Check(
            "readable",
            True,
            f"{take.duration_s:.1f} s, {take.source_size[0]}x{take.source_size[1]}",
        ),
        check_digits(take, challenge),
        check_head_turns(take, yaw, challenge),
        check_same_face(take, track),
        check_lip_sync(take, track),
        check_face_quality(take, track),
    )
    # 4. The likeness
    likeness = estimate_likeness(take, track, yaw) if track.found() else None
    return Verdict(checks, likeness)


# ---------------------------------------------------------------------------------------
# digits


def check_digits(take: Take, challenge: Challenge) -> Check:
    heard = hear_digits(take.audio)
    if not heard:
        return Check("digits", False, f"heard no digits, expected {challenge.spoken()}")
    spaced = " ".join(heard)
    if heard == challenge.digits:
        return Check("digits", True, f"heard {spaced}")
    return Check("digits", False, f"heard {spaced}, expected {challenge.spoken()}")


# ---------------------------------------------------------------------------------------
# head_turns


def _yaw_series(track: FaceTrack) -> np.ndarray:
    """Yaw ratio per analysed frame (NaN where there is no face), > 0 when the nose is
    right of the eyes' midpoint in the image (the person turned to their left)."""
    yaw = np.full(len(track.faces), np.nan)
    for index, face in enumerate(track.faces):
        if face is None:
            continue
        eyes_mid = (face.landmarks[0] + face.landmarks[1]) / 2
        eye_distance = max(face.eye_distance, 1e-6)
        yaw[index] = (face.landmarks[2, 0] - eyes_mid[0]) / eye_distance
    return yaw


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Running median over `width` samples, NaNs filled from their neighbours first."""
    good = ~np.isnan(values)
    if not good.any():
        return values
    index = np.arange(len(values))
    filled = np.interp(index, index[good], values[good])
    half = width // 2
    padded = np.pad(filled, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)  # (T, width)
    return np.asarray(np.median(windows, axis=1))


def turn_events(yaw: np.ndarray, times_s: np.ndarray) -> list[tuple[str, float, float]]:
    """(direction, start_s, peak yaw) of each turn: away beyond TURN_YAW, then back within
    RETURN_YAW of rest (a turn still out when the take ends counts too)."""
    if np.isnan(yaw).all():
        return []
    smooth = _smooth(yaw, 3)
    rest = float(np.median(smooth))
    offset = smooth - rest
    events: list[tuple[str, float, float]] = []
    state = 0  # 0 at rest, +1 or -1 while turned
    start_s = 0.0
    peak = 0.0
    for value, time_s in zip(offset, times_s, strict=True):
        if state == 0 and abs(value) > TURN_YAW:
            state, start_s, peak = int(np.sign(value)), float(time_s), float(value)
        elif state != 0:
            if state * value > state * peak:
                peak = float(value)
            if state * value < RETURN_YAW:
                events.append(("left" if state > 0 else "right", start_s, peak))
                state = 0
    if state != 0:
        events.append(("left" if state > 0 else "right", start_s, peak))
    return events


def check_head_turns(take: Take, yaw: np.ndarray, challenge: Challenge) -> Check:
    if np.isnan(yaw).all():
        return Check("head_turns", False, "no face was found, so no turn could be seen")
    events = turn_events(yaw, take.times_s)
    seen = [direction for direction, _, _ in events]
    expected = list(challenge.turns)
    if not seen:
        largest = float(np.nanmax(np.abs(_smooth(yaw, 3) - np.nanmedian(yaw))))
        return Check(
            "head_turns",
            False,
            f"no head turn seen (largest yaw {largest:.2f}, a turn needs {TURN_YAW:.2f})",
        )
    described = ", then ".join(
        f"{direction} at {start_s:.1f} s (yaw {abs(peak):.2f})"
        for direction, start_s, peak in events
    )
    if seen == expected:
        return Check("head_turns", True, f"turned {described}")
    if len(seen) == len(expected):
        for direction, wanted in zip(seen, expected, strict=True):
            if direction != wanted:
                break
        return Check(
            "head_turns",
            False,
            f"turned {direction} first, expected {' then '.join(expected)} ({described})"
            if seen[0] != expected[0]
            else f"turned {described}; expected {' then '.join(expected)}",
        )
    return Check(
        "head_turns",
        False,
        f"turned {described}; expected {' then '.join(expected)}",
    )


# ---------------------------------------------------------------------------------------
# same_face


def _face_descriptor(rgb: np.ndarray, face: Face) -> np.ndarray:
    """Colours of the skin (the box's centre) and of what is just above the box (hair, or
    the forehead and what is behind it) in Lab, over 10, and the face's grey texture:
    a 12 × 12 crop of the box's centre, zero-mean unit-variance, over 4. The weights make
    parts weigh about the same; one person's take moves by 1-1.5 between its parts (pose,
    light), two people's by 7-8 (measured on the fixtures)."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = face.box
    box_w, box_h = x1 - x0, y1 - y0

    def region(rx0: float, ry0: float, rx1: float, ry1: float) -> np.ndarray:
        left, right = int(max(0, x0 + rx0 * box_w)), int(min(width, x0 + rx1 * box_w))
        top, bottom = int(max(0, y0 + ry0 * box_h)), int(min(height, y0 + ry1 * box_h))
        if right - left < 2 or bottom - top < 2:
            return np.zeros((2, 2, 3), np.uint8)
        return rgb[top:bottom, left:right]

    skin = region(0.3, 0.4, 0.7, 0.75)
    above = region(0.2, -0.25, 0.8, 0.05)
    lab = [
        cv2.cvtColor(part, cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(axis=0) for part in (skin, above)
    ]
    grey = cv2.cvtColor(region(0.2, 0.2, 0.8, 0.9), cv2.COLOR_RGB2GRAY)
    texture = cv2.resize(grey, (12, 12), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
    texture = (texture - texture.mean()) / (texture.std() + 1e-6)
    return np.concatenate([lab[0] / 10, lab[1] / 10, texture / 4])


def check_same_face(take: Take, track: FaceTrack) -> Check:
    found = track.found()
    presence = len(found) / max(1, len(track.faces))
    if presence < MIN_FACE_PRESENCE:
        return Check(
            "same_face",
            False,
            f"a face was found in {presence:.0%} of the take, needs {MIN_FACE_PRESENCE:.0%}",
        )
    crowded = [i for i, count in enumerate(track.other_faces) if count]
    if crowded:
        return Check(
            "same_face", False, f"a second face appeared at {take.times_s[crowded[0]]:.1f} s"
        )
    if track.jumps:
        return Check(
            "same_face",
            False,
            f"the face jumped to another place at {take.times_s[track.jumps[0]]:.1f} s",
        )
    distance, split = _largest_change(take, track, found)
    where = f" at {take.times_s[split]:.1f} s" if split >= 0 else ""
    if distance > SAME_FACE_MAX_DISTANCE:
        return Check(
            "same_face",
            False,
            f"the face changed{where} (appearance distance {distance:.2f}, "
            f"allowed {SAME_FACE_MAX_DISTANCE:.2f})",
        )
    return Check(
        "same_face",
        True,
        f"one face in {presence:.0%} of the take (largest appearance change {distance:.2f})",
    )


def _largest_change(take: Take, track: FaceTrack, found: list[int]) -> tuple[float, int]:
    """The largest distance between the median descriptors before and after any split of
    the take (each side at least a fifth of it), and the frame of that split. A swap of
    faces shows as one split with both sides pure, where changes of pose (which also move
    the descriptor) come and go."""
    descriptors = np.stack(
        [_face_descriptor(take.frames[i], face) for i, face in track.found_faces()]
    )  # (N, D)
    count = len(descriptors)
    margin = max(2, count // 5)
    best, best_split = 0.0, -1
    for split in range(margin, count - margin + 1):
        before = np.median(descriptors[:split], axis=0)
        after = np.median(descriptors[split:], axis=0)
        distance = float(np.linalg.norm(before - after))
        if distance > best:
            best, best_split = distance, found[split]
    return best, best_split


# ---------------------------------------------------------------------------------------
# lip_sync


def mouth_motion(take: Take, track: FaceTrack) -> np.ndarray:
    """Per analysed frame: how far the mouth is open, without a model of the lips: the
    share of the mouth region's pixels much darker (under MOUTH_DARK of the median) than
    the skin between the nose and the mouth. An open mouth shows its dark inside; a closed
    one shows lips, about as bright as that skin. NaN without a face.

    The regions are held rigid to the upper face: placed in the frame of the eyes (their
    midpoint, their axis, their distance as the unit), at the mouth's median position in
    that frame over the whole take. The mouth's own landmarks move with the jaw, so a
    region that followed them would move with what it measures; and the eyes' landmarks
    jitter by a pixel or two, so they are a running median over five frames."""
    count = len(track.faces)
    eyes_mid = np.full((count, 2), np.nan)
    eyes_axis = np.full((count, 2), np.nan)
    for index, face in track.found_faces():
        eyes_mid[index] = (face.landmarks[0] + face.landmarks[1]) / 2
        eyes_axis[index] = face.landmarks[1] - face.landmarks[0]
    for column in range(2):
        eyes_mid[:, column] = _smooth(eyes_mid[:, column], 5)
        eyes_axis[:, column] = _smooth(eyes_axis[:, column], 5)
    # The mouth's place in the eyes' frame: x along the eye axis, y down from it.
    placed = []
    for index, face in track.found_faces():
        axis, down = _eye_frame(eyes_axis[index])
        offset = (face.landmarks[3] + face.landmarks[4]) / 2 - eyes_mid[index]
        placed.append((offset @ axis, offset @ down))
    mouth = np.median(np.array(placed), axis=0) if placed else np.zeros(2)
    openness = np.full(count, np.nan)
    for index, tracked in enumerate(track.faces):
        if tracked is None:
            continue
        grey = cv2.cvtColor(take.frames[index], cv2.COLOR_RGB2GRAY)
        frame = (eyes_mid[index], eyes_axis[index], mouth)
        inside = _eye_frame_patch(grey, frame, MOUTH_REGION, (24, 18))
        skin = _eye_frame_patch(grey, frame, UPPER_LIP_REGION, (24, 10))
        openness[index] = float((inside < MOUTH_DARK * np.median(skin)).mean())
    return openness


def _eye_frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the eyes' axis and perpendicular to it (down the face), each
    scaled by 1 / eye distance, so that a point's offsets come out in eye distances."""
    length_sq = float(axis @ axis) + 1e-9
    along = axis / length_sq
    return along, np.array([-along[1], along[0]])


def _eye_frame_patch(
    grey: np.ndarray,
    frame: tuple[np.ndarray, np.ndarray, np.ndarray],
    extent: tuple[float, float, float, float],
    size: tuple[int, int],
) -> np.ndarray:
    """The patch of `grey` spanning `extent` (x0, y0, x1, y1 in eye distances about the
    mouth's place) in the eyes' frame `frame` (midpoint, axis, mouth offset), resampled to
    `size` (width, height)."""
    mid, axis, mouth = frame
    across = axis
    down = np.array([-axis[1], axis[0]])

    def point(x: float, y: float) -> np.ndarray:
        return mid + (mouth[0] + x) * across + (mouth[1] + y) * down

    x0, y0, x1, y1 = extent
    src = np.array([point(x0, y0), point(x1, y0), point(x0, y1)], np.float32)
    dst = np.array([[0, 0], [size[0], 0], [0, size[1]]], np.float32)
    return cv2.warpAffine(grey, cv2.getAffineTransform(src, dst), size, flags=cv2.INTER_AREA)


def loudness(take: Take) -> np.ndarray:
    """The audio's RMS level in dB around each analysed frame's time (one frame's span)."""
    half = int(AUDIO_RATE / take.fps / 2)
    levels = np.empty(len(take.times_s))
    for index, time_s in enumerate(take.times_s):
        centre = int(time_s * AUDIO_RATE)
        window = take.audio[max(0, centre - half) : centre + half]
        rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) if window.size else 0.0
        levels[index] = 20 * np.log10(rms + 1e-5)
    return levels


def sync_correlation(motion: np.ndarray, level_db: np.ndarray, fps: float) -> tuple[float, float]:
    """(best Pearson correlation, its lag in seconds) of the mouth's signal against the
    loudness over lags up to ±MAX_LAG_S; the audio leads for positive lags.

    Both signals lose their one-second running mean first: any speech, dubbed or not, makes
    the mouth busy while the audio is loud, and only the timing of the syllables within it
    tells a take's own audio from another recording of the same digits. Silence is floored
    at 45 dB under the loud parts, so that room noise does not count as structure."""
    good = ~np.isnan(motion)
    if good.sum() < 10:
        return 0.0, 0.0
    window = max(3, round(fps) | 1)  # odd, about one second
    level_db = np.maximum(level_db, np.percentile(level_db, 95) - 45)
    motion = _minus_running_mean(np.where(good, motion, np.nanmedian(motion)), window)
    level_db = _minus_running_mean(level_db, window)
    # And a three-frame running mean of each: single-frame detector jitter is not speech.
    kernel = np.ones(3) / 3
    motion = np.convolve(motion, kernel, mode="same")
    level_db = np.convolve(level_db, kernel, mode="same")
    max_lag = max(1, round(MAX_LAG_S * fps))
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            m, a, g = motion[lag:], level_db[: len(level_db) - lag], good[lag:]
        else:
            m, a, g = motion[:lag], level_db[-lag:], good[:lag]
        m, a = m[g], a[g]
        if len(m) < 10 or m.std() < 1e-9 or a.std() < 1e-9:
            continue
        correlation = float(np.corrcoef(m, a)[0, 1])
        if correlation > best:
            best, best_lag = correlation, lag
    return max(best, 0.0), best_lag / fps


def _minus_running_mean(values: np.ndarray, window: int) -> np.ndarray:
    padded = np.pad(values, window // 2, mode="edge")
    return values - np.convolve(padded, np.ones(window) / window, mode="valid")


def check_lip_sync(take: Take, track: FaceTrack) -> Check:
    if not track.found():
        return Check("lip_sync", False, "no face was found, so no mouth could be seen")
    motion = mouth_motion(take, track)
    level_db = loudness(take)
    correlation, lag_s = sync_correlation(motion, level_db, take.fps)
    detail = (
        f"mouth motion follows the speech: correlation {correlation:.2f} at {lag_s * 1000:+.0f} ms "
        f"(needs {MIN_SYNC_CORRELATION:.2f} within ±{MAX_LAG_S * 1000:.0f} ms)"
    )
    if correlation >= MIN_SYNC_CORRELATION:
        return Check("lip_sync", True, detail)
    return Check("lip_sync", False, detail.replace("follows", "does not follow"))


# ---------------------------------------------------------------------------------------
# face_quality


def check_face_quality(take: Take, track: FaceTrack) -> Check:
    found = track.found()
    if not found:
        return Check(
            "face_quality",
            False,
            f"no face found (faces under {MIN_EYE_DISTANCE_FRACTION:.0%} of the frame's width "
            "apart at the eyes are too small)",
        )
    width = take.frames.shape[2]
    eye_fraction = float(np.median([face.eye_distance for _, face in track.found_faces()])) / width
    lumas, contrasts = [], []
    for index, face in track.found_faces():
        x0, y0, x1, y1 = (int(v) for v in face.box)
        grey = cv2.cvtColor(
            take.frames[index, max(0, y0) : y1, max(0, x0) : x1], cv2.COLOR_RGB2GRAY
        )
        if grey.size:
            lumas.append(float(grey.mean()))
            contrasts.append(float(grey.std()))
    luma = float(np.median(lumas)) if lumas else 0.0
    contrast = float(np.median(contrasts)) if contrasts else 0.0
    measured = (
        f"eyes {eye_fraction:.1%} of the frame's width apart "
        f"(needs ≥ {MIN_EYE_DISTANCE_FRACTION:.0%}), "
        f"face luma {luma:.0f} (needs {MIN_FACE_LUMA:.0f}-{MAX_FACE_LUMA:.0f}), "
        f"contrast {contrast:.0f} (needs ≥ {MIN_FACE_CONTRAST:.0f})"
    )
    problems = []
    if eye_fraction < MIN_EYE_DISTANCE_FRACTION:
        problems.append("the face is too small: come closer")
    if luma < MIN_FACE_LUMA:
        problems.append("the face is too dark")
    elif luma > MAX_FACE_LUMA:
        problems.append("the face is overexposed")
    if contrast < MIN_FACE_CONTRAST:
        problems.append("the face has too little contrast")
    if problems:
        return Check("face_quality", False, "; ".join(problems) + f": {measured}")
    return Check("face_quality", True, measured)
