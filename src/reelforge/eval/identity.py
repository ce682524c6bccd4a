"""Cameo identity: does a character in the clip look like the reference character?

1. Faces are found by their eyes with the judge's detector (eval/characters.py): in the
   reference portrait (brought to REFERENCE_PX high first, the scale the detector's eye
   sizes suit) and in SAMPLED_FRAMES frames spread over the clip, each searched as it is
   and enlarged 2× (the detector misses some small faces at one scale or the other).
   Detections are linked into tracks across frames (a moving camera moves faces); a
   track seen in fewer than MIN_RECURRENCE of the sampled frames is dropped.
2. Relative to each face (its centre and head radius r) three colours are sampled, as
   per-channel medians of small patches: skin (both cheeks and the chin), hair (the
   crown; a bald head gives skin there, in the reference as in the clip) and shirt (the
   chest, 1.5-2.1 r below the face's centre). A track's colours are the median over its
   frames, so an object passing in front of a face now and then does not count.
3. The clip's light may differ from the reference's (sunset, night): the reference's
   three colours are scaled by one gain per RGB channel, fitted by least squares to the
   track's colours and bounded to GAIN_RANGE (a von Kries white balance; colours that a
   shared change of light cannot explain still differ). A track's distance is the
   largest CIELAB ΔE76 of the three parts; the clip's is that of its closest track.

found: distance ≤ MATCH_DELTA_E. score: 1 / (1 + (distance / MATCH_DELTA_E)²), so 1.0 is
identical colours and 0.5 the threshold. Only pixels are read, never a plan.
docs/EVAL.md ("Cameo identity") has the measured true- and false-positive rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from reelforge.eval.characters import MIN_RECURRENCE, Face, find_faces

PARTS = ("skin", "hair", "shirt")
# Patches per part: (x0, x1, y0, y1) in head radii from the face's centre. In clips the
# face's centre sits 0.1 r toward where the character looks (its eyes do), so patches
# are wide enough, and far enough from the nose, mouth, sideburns and arms, either way.
PATCHES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "skin": ((-0.62, -0.38, 0.12, 0.34), (0.38, 0.62, 0.12, 0.34), (-0.15, 0.15, 0.7, 0.85)),
    "hair": ((-0.3, 0.3, -0.9, -0.62),),
    "shirt": ((-0.3, 0.3, 1.5, 2.1),),
}
GAIN_RANGE = (0.7, 1.15)  # per-channel change of light allowed between reference and clip
# The same character: the worst part's CIELAB ΔE76 at most this. Measured on sim clips
# (docs/EVAL.md): the same character ≤ 5.1, a different one ≥ 10.7.
MATCH_DELTA_E = 9.0
SAMPLED_FRAMES = 16
REFERENCE_PX = 128  # portraits are read at this height (character_reference's default)
TRACK_LINK_R = 0.5  # a face within this many head radii of a track's last face continues it

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class SeenCharacter:
    """One character of the clip: a face tracked over the sampled frames."""

    face: Face  # where it was first seen, at the frames' scale
    frames_seen: int
    colours: dict[str, RGB]  # part → median RGB over the frames it was seen in


@dataclass(frozen=True)
class SeenCharacters:
    frames_sampled: int
    characters: list[SeenCharacter]


@dataclass(frozen=True)
class CharacterMatch:
    """One character of the clip compared with the reference."""

    character: SeenCharacter
    delta_e: dict[str, float]  # part → CIELAB ΔE76 against the reference, after `gains`
    gains: RGB  # the change of light fitted (R, G, B)
    distance: float  # the worst part's ΔE76


@dataclass(frozen=True)
class IdentityMatch:
    found: bool
    score: float  # 0..1; ≥ 0.5 exactly when found
    distance: float | None  # of the closest character; None when nothing was compared
    frames_sampled: int
    matches: list[CharacterMatch] = field(default_factory=list)  # closest first
    reference_colours: dict[str, RGB] = field(default_factory=dict)
    reason: str = ""  # why nothing could be compared, if so


def identity_score(frames: np.ndarray, reference: np.ndarray) -> IdentityMatch:
    """Whether a character in `frames` (uint8 (T, H, W, 3) RGB) looks like the character
    in `reference` (uint8 (h, w, 3) RGB: a cameo portrait, head and torso, ≥ 128 px)."""
    return match_reference(seen_characters(frames), reference)


def seen_characters(frames: np.ndarray) -> SeenCharacters:
    """The characters of a clip (uint8 (T, H, W, 3) RGB) and their colours (steps 1-2);
    computed once, they can be compared with any number of references."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    indices = np.linspace(0, len(frames) - 1, min(SAMPLED_FRAMES, len(frames))).astype(int)
    characters = []
    for track in _face_tracks(frames, indices):
        per_frame = [face_colours(frames[i], face) for i, face in track]
        colours = {part: _rgb(np.median([c[part] for c in per_frame], axis=0)) for part in PARTS}
        characters.append(SeenCharacter(track[0][1], len(track), colours))
    return SeenCharacters(len(indices), characters)


def match_reference(seen: SeenCharacters, reference: np.ndarray) -> IdentityMatch:
    """Compare the clip's characters with the one in `reference` (step 3)."""
    if reference.ndim != 3 or reference.shape[-1] != 3 or reference.dtype != np.uint8:
        raise ValueError(
            f"reference must be uint8 (h, w, 3), got {reference.dtype} {reference.shape}"
        )
    portrait = _at_reference_scale(reference)
    reference_faces = find_faces(portrait[None])
    if not reference_faces:
        return IdentityMatch(
            False, 0.0, None, seen.frames_sampled, reason="no face in the reference"
        )
    wanted = face_colours(portrait, max(reference_faces, key=lambda f: f.radius))
    if not seen.characters:
        return IdentityMatch(
            False,
            0.0,
            None,
            seen.frames_sampled,
            reference_colours=wanted,
            reason=f"no face recurs in {MIN_RECURRENCE:.0%} of the {seen.frames_sampled} "
            "sampled frames",
        )
    matches = sorted((_compare(c, wanted) for c in seen.characters), key=lambda m: m.distance)
    distance = matches[0].distance
    return IdentityMatch(
        found=distance <= MATCH_DELTA_E,
        score=1.0 / (1.0 + (distance / MATCH_DELTA_E) ** 2),
        distance=distance,
        frames_sampled=seen.frames_sampled,
        matches=matches,
        reference_colours=wanted,
    )


def face_colours(image: np.ndarray, face: Face) -> dict[str, RGB]:
    """Part → the median RGB of its patches around `face` in `image` (uint8 (H, W, 3))."""
    height, width = image.shape[:2]
    colours = {}
    for part in PARTS:
        pixels = []
        for x0, x1, y0, y1 in PATCHES[part]:
            left = int(np.clip(round(face.x + x0 * face.radius), 0, width - 1))
            right = int(np.clip(round(face.x + x1 * face.radius), left + 1, width))
            top = int(np.clip(round(face.y + y0 * face.radius), 0, height - 1))
            bottom = int(np.clip(round(face.y + y1 * face.radius), top + 1, height))
            pixels.append(image[top:bottom, left:right].reshape(-1, 3))  # (n, 3)
        colours[part] = _rgb(np.median(np.concatenate(pixels), axis=0))
    return colours


def _at_reference_scale(reference: np.ndarray) -> np.ndarray:
    height = reference.shape[0]
    if height == REFERENCE_PX:
        return reference
    width = max(1, round(reference.shape[1] * REFERENCE_PX / height))
    shrink = height > REFERENCE_PX
    return cv2.resize(
        reference,
        (width, REFERENCE_PX),
        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC,
    )


def _faces_at_two_scales(frame: np.ndarray) -> list[Face]:
    """Faces in one frame, searched as it is and enlarged 2× (at the frame's scale)."""
    faces = find_faces(frame[None])
    enlarged = cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    for big in find_faces(enlarged[None]):
        face = Face(big.x / 2, big.y / 2, big.radius / 2)
        if all(_apart(face, other) > 0.3 for other in faces):
            faces.append(face)
    return faces


def _apart(a: Face, b: Face) -> float:
    """Distance between two faces' centres in head radii (of the larger)."""
    return float(np.hypot(a.x - b.x, a.y - b.y) / max(a.radius, b.radius))


def _face_tracks(frames: np.ndarray, indices: np.ndarray) -> list[list[tuple[int, Face]]]:
    """(frame index, face) lists, one per character seen in enough sampled frames."""
    tracks: list[list[tuple[int, Face]]] = []
    for i in indices:
        for face in _faces_at_two_scales(frames[i]):
            open_tracks = [t for t in tracks if t[-1][0] != i]  # one face per frame per track
            nearest = min(open_tracks, key=lambda t: _apart(t[-1][1], face), default=None)
            if nearest is not None and _apart(nearest[-1][1], face) <= TRACK_LINK_R:
                nearest.append((int(i), face))
            else:
                tracks.append([(int(i), face)])
    return [t for t in tracks if len(t) >= max(1, MIN_RECURRENCE * len(indices))]


def _compare(character: SeenCharacter, wanted: dict[str, RGB]) -> CharacterMatch:
    seen = np.array([character.colours[p] for p in PARTS])  # (parts, RGB)
    reference = np.array([wanted[p] for p in PARTS])  # (parts, RGB)
    gains = np.clip(
        (seen * reference).sum(axis=0) / np.maximum((reference**2).sum(axis=0), 1.0), *GAIN_RANGE
    )  # (RGB,): least squares per channel over the parts
    delta = np.linalg.norm(_lab(seen) - _lab(np.clip(reference * gains, 0, 255)), axis=1)
    return CharacterMatch(
        character=character,
        delta_e={p: float(d) for p, d in zip(PARTS, delta, strict=True)},
        gains=_rgb(gains),
        distance=float(delta.max()),
    )


def _rgb(values: np.ndarray) -> RGB:
    return float(values[0]), float(values[1]), float(values[2])


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB 0..255 → (N, 3) CIELAB (L 0..100)."""
    pixels = (rgb.astype(np.float32) / 255.0)[None]  # (1, N, 3)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB)[0].astype(np.float64)
