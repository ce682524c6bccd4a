"""Cameo references: what a learned engine is shown of a character it must reproduce.

A cameo is an appearance image (the character alone, front view, head and torso filling
the square, on a plain neutral backdrop) and a voice sample (a fixed neutral sentence in
the character's voice, mono 16 kHz). Both come from the sim engine's own drawing and
speech code, so a cameo of a sim character shows exactly the character the sim renders
in clips, and a model trained on sim clips can be taught to reproduce it.

`random_character` draws a character the way the rules recaptioner draws one for a
prompt that describes nobody in particular; the eval gives cameo clips such a character.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from reelforge.cameos.likeness import Likeness
from reelforge.engines.sim.render import Renderer
from reelforge.engines.sim.speech import synthesize
from reelforge.engines.sim.world import VIEW_SHORT_M, simulate
from reelforge.errors import InvalidRequest
from reelforge.media import resample
from reelforge.recaption.rules import RulePlanner
from reelforge.types import (
    AUDIO_SAMPLE_RATE,
    CharacterSpec,
    LightingSpec,
    ScenePlan,
    SettingSpec,
)

VOICE_SAMPLE_RATE = 16_000  # the dit audio codec's rate (data.CODEC_SAMPLE_RATE; no torch here)
REFERENCE_SENTENCE = "Hello, it is nice to meet you all today."
BACKDROP_RGB = (176, 176, 176)  # neutral grey: unlike any skin, hair or shirt colour
# The square crop, in character heights: from just above a bun (1.07 h) down to the top
# of the trousers (0.40 h above the feet), centred on the body.
CROP_TOP_H = 1.10
CROP_SIDE_H = 0.76
SUPERSAMPLE = 2  # drawn at twice the size, then area-averaged down
MIN_SIZE, MAX_SIZE = 32, 1024
CHARACTER_KINDS = ("person", "man", "woman", "boy", "girl")


@dataclass(frozen=True, eq=False)
class CameoReference:
    """image: uint8 (size, size, 3) RGB. voice: float32 (S,) mono at VOICE_SAMPLE_RATE.
    Both arrays are read-only.

    A verified cameo also carries its `likeness` (what the sim draws and voices, see
    cameos/draw.py), the `handle` that cast it, and for the C2PA consent assertion its
    `cameo_id` and the `grant` that allowed the cast. A reference made from a plain
    character (the eval's, dit training's) has none of them."""

    image: np.ndarray
    voice: np.ndarray
    likeness: Likeness | None = None
    handle: str | None = None
    cameo_id: str | None = None
    grant: str | None = None


def character_reference(
    character: CharacterSpec, *, size: int = 128, seconds: float = 2.0
) -> CameoReference:
    """The cameo of `character`: its portrait (`size` px square) and `seconds` of it
    speaking REFERENCE_SENTENCE (cut, or padded with silence, to round(seconds × 16 kHz)
    samples). Same character → identical arrays."""
    # 1. Check inputs.
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidRequest(f"size must be an integer in {MIN_SIZE}..{MAX_SIZE}, got {size!r}")
    if not math.isfinite(seconds) or not 0 < seconds <= 20:
        raise InvalidRequest(f"seconds must be in (0, 20], got {seconds!r}")

    # 2. Portrait and voice.
    image = _portrait(character, size)
    voice = _voice_sample(character, round(seconds * VOICE_SAMPLE_RATE))
    image.flags.writeable = False
    voice.flags.writeable = False
    return CameoReference(image=image, voice=voice)


def random_character(rng: np.random.Generator) -> CharacterSpec:
    """A plausible character drawn as the rules recaptioner draws one: a kind, then the
    recaptioner's own choice of look and voice for "a <kind>" (from a seed drawn here)."""
    kind = CHARACTER_KINDS[int(rng.integers(len(CHARACTER_KINDS)))]
    seed = int(rng.integers(2**31))
    plan = RulePlanner(nearest=None).plan(f"A {kind} stands still.", seed)
    if len(plan.characters) != 1:  # the planner's vocabulary lost the kind: a bug, say so
        raise RuntimeError(f"the rules planner found {len(plan.characters)} characters in {kind!r}")
    return plan.characters[0]


def _portrait(character: CharacterSpec, size: int) -> np.ndarray:
    """The character drawn by the sim renderer on a grey backdrop, cropped square."""
    # A landscape frame with the character at the sim's "left" spot (0.19 of the width),
    # scaled so that the crop is SUPERSAMPLE × size pixels whatever the character's height.
    height_m = character.appearance.height_m
    side_px = SUPERSAMPLE * size
    body_px = side_px / CROP_SIDE_H  # the character's height in pixels
    frame_h = math.ceil(body_px * VIEW_SHORT_M / height_m)
    frame_w = math.ceil(1.5 * frame_h)  # leaves room left of the character for the crop
    alone = character.model_copy(update={"lines": [], "position": "left"})
    plan = ScenePlan(
        prompt="cameo reference",
        setting=SettingSpec(kind="studio"),
        lighting=LightingSpec(time_of_day="day", key_from="top"),  # even light on the face
        characters=[alone],
    )
    sim = simulate(
        plan,
        width_px=frame_w,
        height_px=frame_h,
        fps=24,
        frame_count=1,
        rng=np.random.default_rng(0),
    )
    layout = sim.characters[0]
    layout.facing = 0  # a front view: eyes, nose and mouth centred (in clips it is ±1)
    backdrop = np.empty((frame_h, frame_w, 3), np.uint8)
    backdrop[:] = BACKDROP_RGB
    renderer = Renderer(sim, plan, frame_w, frame_h, {}, seed=0, plate=backdrop)
    frame = renderer.render_all()[0]  # (H, W, 3); the first frame never blinks

    centre_x, feet_y = renderer.to_px(layout.x_m, 0.0)
    body = layout.height_m * renderer.px_per_m
    x0 = round(centre_x - side_px / 2)
    y0 = round(feet_y - CROP_TOP_H * body)
    crop = frame[y0 : y0 + side_px, x0 : x0 + side_px]
    if crop.shape != (side_px, side_px, 3):  # the frame was sized so this cannot happen
        raise RuntimeError(f"portrait crop {crop.shape} fell outside the {frame.shape} frame")
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def _voice_sample(character: CharacterSpec, samples: int) -> np.ndarray:
    """REFERENCE_SENTENCE in the character's voice: float32 (samples,) mono at 16 kHz."""
    utterance = synthesize(REFERENCE_SENTENCE, character.voice)  # (S,) at 48 kHz
    audio = resample(utterance.audio[None, :], AUDIO_SAMPLE_RATE, VOICE_SAMPLE_RATE)[0]
    out = np.zeros(samples, np.float32)
    n = min(samples, audio.size)
    out[:n] = audio[:n]
    return out
