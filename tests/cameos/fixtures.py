"""Verification takes made from real photographs of faces that ship inside installed
packages (scikit-image's astronaut, Eileen Collins; matplotlib's Grace Hopper), animated:

- the head turns by a cylinder warp of the face: a point at angle φ on a cylinder through
  the face moves to φ + θ, so the nose slides across while the far eye is squeezed, as in
  a real yaw (the detector's landmarks move accordingly: see test_liveness.py). θ > 0
  moves the face towards the image's right, which is the person's own left;
- the mouth opens with the speech: the jaw below the mouth line is pulled down by the
  loudness envelope and the gap between the lips darkened;
- the digits are spoken by espeak-ng as one sentence, at one of three rates, in voices
  PocketSphinx hears (the Klatt family, f2, f5; see cameos/digits.py);
- the frame drifts a little as a hand-held phone does, with a per-take exposure and noise,
  and the take is encoded to MP4 (H.264 + AAC) by the project's encoder.

Kinds: "positive", and one negative per check: "wrong_digits" (a replayed take of other
digits), "no_turn", "wrong_order", "still_photo" (one frame held up, with the right
digits), "two_faces" (the face is switched mid-take), "other_audio" (the right digits,
dubbed from another recording), "too_small" (the face far from the camera).
"""

from __future__ import annotations

import functools
import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib
import numpy as np

from reelforge.cameos.faces import detect_faces
from reelforge.cameos.liveness import Challenge
from reelforge.engines.sim.speech import synthesize
from reelforge.media.mp4 import encode_mp4
from reelforge.types import Voice

KINDS = (
    "positive",
    "wrong_digits",
    "no_turn",
    "wrong_order",
    "still_photo",
    "two_faces",
    "other_audio",
    "too_small",
)
VOICES = (
    "en-us+klatt",
    "en-us+klatt2",
    "en-us+klatt3",
    "en-us+klatt4",
    "en-us+klatt5",
    "en-us+klatt6",
    "en-us+f2",
    "en-us+f5",
)
PHOTOS = ("astronaut", "grace_hopper")
WIDTH, HEIGHT, FPS = 480, 360, 15
SAMPLE_RATE = 48_000
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class FixtureTake:
    path: Path
    kind: str
    seed: int
    challenge: Challenge
    photo: str
    voice: str


# ---------------------------------------------------------------------------------------
# The photographs.


def photo_path(name: str) -> Path:
    if name == "astronaut":
        # scikit-image is not imported (it needs more than this); its data file is read.
        spec = importlib.util.find_spec("skimage")
        assert spec is not None and spec.submodule_search_locations, "scikit-image missing"
        return Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    if name == "grace_hopper":
        return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    raise ValueError(f"unknown photo {name!r}")


@functools.cache
def _photo(name: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """(RGB image, landmarks (5, 2), face box) of a photograph."""
    bgr = cv2.imread(str(photo_path(name)))
    assert bgr is not None, f"cannot read {name}"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    faces = detect_faces(rgb, 40)
    assert faces, f"no face found in {name}"
    face = max(faces, key=lambda f: f.width)
    # Rounded to half a pixel: the detector's last digits depend on the CPU's thread count,
    # and a take must be the same file whatever ran before it.
    landmarks = np.round(face.landmarks * 2) / 2
    box = (round(face.box[0]), round(face.box[1]), round(face.box[2]), round(face.box[3]))
    return rgb, landmarks, (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


@dataclass(frozen=True)
class _Portrait:
    image: np.ndarray  # (HEIGHT, WIDTH, 3) uint8: the photo placed in the frame
    landmarks: np.ndarray  # (5, 2) in the frame
    face_width: float


def _portrait(
    name: str, face_fraction: float, centre_x: float, background: tuple[int, ...]
) -> _Portrait:
    """The photo scaled so its face is `face_fraction` of the frame's width, its face centred
    at `centre_x` (a fraction of the width) and a third of the way down."""
    rgb, landmarks, box = _photo(name)
    face_w = box[2] - box[0]
    scale = face_fraction * WIDTH / face_w
    face_cx = (box[0] + box[2]) / 2 * scale
    face_cy = (box[1] + box[3]) / 2 * scale
    shift = np.array([centre_x * WIDTH - face_cx, 0.42 * HEIGHT - face_cy])
    matrix = np.array([[scale, 0, shift[0]], [0, scale, shift[1]]], np.float32)
    image = cv2.warpAffine(
        rgb,
        matrix,
        (WIDTH, HEIGHT),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT if face_fraction < 0.15 else cv2.BORDER_REFLECT,
        borderValue=background,
    )
    return _Portrait(image, landmarks * scale + shift, face_w * scale)


# ---------------------------------------------------------------------------------------
# Animation.


def _open_mouth(
    image: np.ndarray, landmarks: np.ndarray, face_width: float, openness: float
) -> np.ndarray:
    """The jaw pulled down by up to 9 % of the face's width, the gap darkened."""
    if openness <= 0.02:
        return image
    mouth = (landmarks[3] + landmarks[4]) / 2
    mouth_w = max(float(np.linalg.norm(landmarks[4] - landmarks[3])), 0.3 * face_width)
    drop = openness * 0.09 * face_width
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    across = np.clip(1 - (np.abs(xs - mouth[0]) / (0.9 * mouth_w)) ** 2, 0, 1)
    below = (ys - mouth[1]) / (0.8 * face_width)
    down = np.where(below < 0, np.clip(1 + below * 8, 0, 1), np.clip(1 - below, 0, 1))
    map_y = (ys - drop * across * down).astype(np.float32)
    out = cv2.remap(image, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((height, width), np.uint8)
    centre = (round(float(mouth[0])), round(float(mouth[1] + drop / 2)))
    axes = (max(1, round(float(0.36 * mouth_w))), max(1, round(float(drop / 2))))
    cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, 255, -1)
    gap = cv2.GaussianBlur(mask, (5, 5), 1.2).astype(np.float32)[..., None] / 255 * 0.85
    return (out * (1 - gap) + np.array([70, 28, 30]) * gap).astype(np.uint8)


def _turn_head(
    image: np.ndarray, landmarks: np.ndarray, face_width: float, yaw_rad: float
) -> np.ndarray:
    """A yaw of `yaw_rad` (> 0: towards the image's right) by a cylinder warp of the head."""
    if abs(yaw_rad) < 1e-3:
        return image
    centre_x = float(landmarks[:, 0].mean())
    centre_y = float(landmarks[:, 1].mean())
    radius = 0.62 * face_width
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u = np.clip((xs - centre_x) / radius, -0.999, 0.999)
    source_angle = np.clip(np.arcsin(u) - yaw_rad, -np.pi / 2, np.pi / 2)
    source_x = centre_x + radius * np.sin(source_angle)
    across = np.clip((1 - np.abs(u)) / 0.25, 0, 1)
    vertical = (ys - centre_y) / (1.2 * face_width)
    along = np.clip((1 - np.abs(vertical)) / 0.3, 0, 1)
    weight = across * along
    map_x = xs + weight * (source_x - xs)
    return cv2.remap(
        image, map_x.astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def _yaw_curve(
    times_s: np.ndarray, turns: tuple[str, ...], starts_s: list[float], peak_rad: float
) -> np.ndarray:
    """Each turn: 0.35 s out, held 0.4 s, 0.35 s back (a smooth step each way)."""
    yaw = np.zeros_like(times_s)
    for direction, start in zip(turns, starts_s, strict=True):
        sign = 1.0 if direction == "left" else -1.0  # the person's left is the image's right
        rise = np.clip((times_s - start) / 0.35, 0, 1)
        fall = np.clip((times_s - start - 0.75) / 0.35, 0, 1)
        shape = (3 * rise**2 - 2 * rise**3) - (3 * fall**2 - 2 * fall**3)
        yaw += sign * peak_rad * shape
    return yaw


# ---------------------------------------------------------------------------------------
# Speech.


def _speech(digits: str, voice: str, rng: random.Random) -> np.ndarray:
    """The digits said as one sentence ("four. seven. one. ..."), from 0.5-0.9 s in, over
    a quiet room's noise: (S,) at 48 kHz. (Said one word at a time, with silences cut in
    between, espeak-ng's digits are heard far worse: 21 of 48 sequences against 45.)"""
    rate = rng.choice((130, 150, 170))
    text = ". ".join(DIGIT_WORDS[int(digit)] for digit in digits) + "."
    utterance = synthesize(text, Voice(espeak_voice=voice, rate_wpm=rate))
    assert utterance.sample_rate == SAMPLE_RATE
    lead = np.zeros(int(rng.uniform(0.5, 0.9) * SAMPLE_RATE), np.float32)
    speech = np.concatenate([lead, np.asarray(utterance.audio, np.float32)]) * rng.uniform(0.4, 0.9)
    room = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 0.001, speech.shape)
    return (speech + room).astype(np.float32)


def _envelope(audio: np.ndarray, count: int) -> np.ndarray:
    """Mouth openness per video frame, 0..1, from the speech's loudness."""
    per_frame = SAMPLE_RATE // FPS
    padded = np.zeros(count * per_frame, np.float32)
    padded[: min(len(audio), len(padded))] = audio[: len(padded)]
    rms = np.sqrt(np.mean(padded.reshape(count, per_frame) ** 2, axis=1))
    level_db = 20 * np.log10(rms / (rms.max() + 1e-9) + 1e-6)
    return np.clip((level_db + 30) / 24, 0, 1)


# ---------------------------------------------------------------------------------------
# The take.


def make_take(
    kind: str, seed: int, folder: Path, *, challenge: Challenge | None = None
) -> FixtureTake:
    """Write the take of `kind` for `seed` into `folder` (deterministic for a seed). With
    `challenge` (a server's), the take answers it: its digits and turns replace the
    seed's, and every other draw (voice rate, timing, framing) stays the seed's."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    rng = random.Random(f"{kind}:{seed}")
    photo = PHOTOS[seed % len(PHOTOS)]
    voice = VOICES[seed % len(VOICES)]
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    turns = tuple(rng.choice((("left", "right"), ("right", "left"))))
    if challenge is not None:
        digits, turns = challenge.digits, tuple(challenge.turns)
    challenge = Challenge(digits=digits, turns=turns)

    # 1. What is said, and when the mouth moves.
    spoken = (
        "".join(rng.choice("0123456789") for _ in range(6)) if kind == "wrong_digits" else digits
    )
    audio = _speech(spoken, voice, rng)
    duration_s = max(6.0, len(audio) / SAMPLE_RATE + 0.6)
    count = round(duration_s * FPS)
    mouth_audio = audio
    if kind == "other_audio":  # the mouth follows this recording; another one is heard
        other_voice = VOICES[(seed + 3) % len(VOICES)]
        audio = _speech(digits, other_voice, random.Random(f"dub:{seed}"))
        count = max(count, round((len(audio) / SAMPLE_RATE + 0.6) * FPS))
    openness = _envelope(mouth_audio, count)

    # 2. How the head turns.
    times_s = np.arange(count) / FPS
    first = rng.uniform(0.2, 0.3) * duration_s
    second = rng.uniform(0.58, 0.68) * duration_s
    shown_turns = turns[::-1] if kind == "wrong_order" else turns
    peak = np.radians(rng.uniform(34, 42))
    yaw = _yaw_curve(times_s, shown_turns, [first, second], peak)
    if kind in ("no_turn", "still_photo"):
        yaw[:] = 0.0

    # 3. The frames.
    face_fraction = rng.uniform(0.06, 0.08) if kind == "too_small" else rng.uniform(0.26, 0.34)
    background = tuple(int(v) for v in rng.choice(((200, 196, 186), (120, 130, 140), (90, 80, 70))))
    portraits = [_portrait(photo, face_fraction, rng.uniform(0.44, 0.56), background)]
    if kind == "two_faces":
        other = PHOTOS[(seed + 1) % len(PHOTOS)]
        portraits.append(_portrait(other, face_fraction, rng.uniform(0.44, 0.56), background))
    switch_at = count // 2 + rng.randint(-3, 3)
    gain = rng.uniform(0.85, 1.12)
    noise = np.random.default_rng(seed)
    drift_phase = rng.uniform(0, 2 * np.pi)
    frames = np.empty((count, HEIGHT, WIDTH, 3), np.uint8)
    still: np.ndarray | None = None
    for index in range(count):
        portrait = portraits[-1] if index >= switch_at else portraits[0]
        if kind == "still_photo":
            if still is None:
                still = portrait.image
            image = still
        else:
            image = _open_mouth(
                portrait.image, portrait.landmarks, portrait.face_width, openness[index]
            )
            shifted = portrait.landmarks.copy()
            image = _turn_head(image, shifted, portrait.face_width, float(yaw[index]))
        # A hand-held drift of a few pixels.
        dx = 3 * np.sin(0.9 * times_s[index] + drift_phase)
        dy = 2 * np.sin(1.3 * times_s[index] + 2 * drift_phase)
        moved = cv2.warpAffine(
            image,
            np.array([[1, 0, dx], [0, 1, dy]], np.float32),
            (WIDTH, HEIGHT),
            borderMode=cv2.BORDER_REFLECT,
        )
        frame = moved.astype(np.float32) * gain + noise.normal(0, 2.0, moved.shape)
        frames[index] = np.clip(frame, 0, 255).astype(np.uint8)

    # 4. The file.
    path = folder / f"{kind}-{seed}.mp4"
    encode_mp4(path, frames, audio[None, :], FPS, SAMPLE_RATE, crf=23)
    return FixtureTake(path, kind, seed, challenge, photo, voice)
