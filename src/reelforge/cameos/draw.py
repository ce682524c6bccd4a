"""What an engine does with a cameo: the sim draws and voices the person's likeness.

1. Look: `appearance_of` turns a Likeness (cameos/likeness.py: colours and a few
   categories estimated from the verification take) into the sim's Appearance: skin and
   hair colour as measured, hair length → hair style (none → bald, short → short,
   medium → a bob, long → long), the shirt's exact colour with the nearest named colour
   for captions, glasses, face shape (the head's height over its width). Height and
   trousers are not part of a likeness: height follows the cast character's kind.
2. Voice: `voice_of` fits espeak-ng settings to the take's voice. The variant follows the
   median F0 (en-us+m3 below VOICE_SPLIT_HZ, en-us+f3 from it); the pitch setting is the
   one whose measured F0 in that variant is the person's (PITCH_TO_F0_HZ, inverted by
   interpolation); the rate is syllables per second × 60 / SYLLABLES_PER_WORD.
3. Casting: `cast` gives the plan's characters the likenesses of the cameos a request
   casts, in order: the character named by the cameo's @handle, else the first character
   not yet cast, else a new character (a plan holds two at most, as a request casts).
   The cast character takes the handle as its name, so the caption and the lines say who
   it is, and stays a man, a woman or a person (anything else, a child or a robot, becomes
   a person: the cameo is drawn as the person it is). Every engine that takes cameos gets
   the cast plan; the sim has nothing else to go on, a learned engine also gets the
   reference image and voice.

Everything here is a pure function of its inputs: the same likeness draws and sounds the
same in every clip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.cameos.likeness import Likeness
from reelforge.db.models import Cameo, CameoUse
from reelforge.errors import InvalidRequest
from reelforge.recaption.vocabulary import COLORS, NATURAL_HAIR, SKIN_TONES
from reelforge.types import (
    RGB,
    Appearance,
    CharacterKind,
    CharacterSpec,
    FaceShape,
    HairStyle,
    ScenePlan,
    Voice,
)

if TYPE_CHECKING:  # the sim's renderer and speech stand behind a reference
    from reelforge.engines.dit.references import CameoReference

HairLength = Literal["none", "short", "medium", "long"]  # Likeness.hair_length
MAX_CAST = 2  # cameos one request may cast: a plan holds two characters
HAIR_STYLES: dict[HairLength, HairStyle] = {
    "none": "bald",
    "short": "short",
    "medium": "medium",
    "long": "long",
}
# Standing heights (m) by the cast character's kind; "person" by the voice's register.
HEIGHTS_M: dict[str, float] = {"man": 1.78, "woman": 1.66, "boy": 1.35, "girl": 1.32}
ADULT_KINDS = ("man", "woman", "person")  # what a cast character stays; others: "person"
PERSON_HEIGHTS_M = (1.76, 1.66)  # a lower voice, a higher one
PANTS_RGB: RGB = (40, 50, 80)  # denim: trousers are not part of a likeness

# 2. The voice. Median F0 (Hz) espeak-ng produces for "Hello, it is nice to meet you all
# today. The weather is lovely and we are happy." at each pitch setting, measured by
# autocorrelation over the voiced 40 ms windows of the 48 kHz synthesis (espeak-ng 1.51).
# Below the first entry a variant cannot go lower: its lowest pitch is used.
VOICE_SPLIT_HZ = 165.0
LOW_VOICE, HIGH_VOICE = "en-us+m3", "en-us+f3"
PITCH_TO_F0_HZ: dict[str, tuple[tuple[int, float], ...]] = {
    LOW_VOICE: (
        (10, 78), (15, 80), (20, 83), (25, 86), (30, 87), (35, 91), (40, 94), (45, 99),
        (50, 103), (55, 107), (60, 112), (65, 119), (70, 124), (75, 131), (80, 138),
        (85, 145), (90, 154), (95, 163), (99, 170),
    ),
    HIGH_VOICE: (
        (0, 145), (5, 150), (10, 154), (15, 158), (20, 162), (25, 168), (30, 174),
        (35, 180), (40, 186), (45, 195), (50, 203), (55, 213), (60, 222), (65, 235),
        (70, 242), (75, 256), (80, 271), (85, 286), (90, 296), (95, 314), (99, 327),
    ),
}  # fmt: skip
SYLLABLES_PER_WORD = 1.5  # English conversational speech
MIN_RATE_WPM, MAX_RATE_WPM = 80, 350  # Voice's own bounds


def appearance_of(likeness: Likeness, kind: CharacterKind = "person") -> Appearance:
    """The sim's look of a person with `likeness`, cast as a character of `kind`."""
    height = HEIGHTS_M.get(kind) or PERSON_HEIGHTS_M[likeness.voice_pitch_hz >= VOICE_SPLIT_HZ]
    return Appearance(
        skin_rgb=likeness.skin_rgb,
        hair_rgb=likeness.hair_rgb,
        hair_style=HAIR_STYLES[likeness.hair_length],
        shirt_color=nearest_color(likeness.shirt_rgb),
        shirt_rgb=likeness.shirt_rgb,
        pants_rgb=PANTS_RGB,
        height_m=height,
        glasses=likeness.glasses,
        face_shape=likeness.face_shape,
    )


def voice_of(likeness: Likeness) -> Voice:
    """espeak-ng settings that speak at the person's pitch and pace."""
    f0_hz = likeness.voice_pitch_hz
    if not np.isfinite(f0_hz) or f0_hz <= 0:
        raise InvalidRequest(f"voice_pitch_hz must be a positive number, got {f0_hz!r}")
    if not np.isfinite(likeness.speech_rate) or likeness.speech_rate <= 0:
        raise InvalidRequest(f"speech_rate must be a positive number, got {likeness.speech_rate!r}")
    variant = LOW_VOICE if f0_hz < VOICE_SPLIT_HZ else HIGH_VOICE
    table = PITCH_TO_F0_HZ[variant]
    pitches = np.array([p for p, _ in table], np.float64)
    f0s = np.array([f for _, f in table], np.float64)  # increasing with pitch
    # Beyond the table's ends the variant's lowest or highest pitch: the nearest it speaks.
    pitch = round(float(np.interp(f0_hz, f0s, pitches)))
    rate = round(likeness.speech_rate * 60 / SYLLABLES_PER_WORD)
    return Voice(
        espeak_voice=variant,
        pitch=int(np.clip(pitch, 0, 99)),
        rate_wpm=int(np.clip(rate, MIN_RATE_WPM, MAX_RATE_WPM)),
    )


def nearest_color(rgb: RGB) -> str:
    """The named colour (recaption's COLORS) nearest `rgb` in CIELAB."""
    names = list(COLORS)
    lab = _lab(np.array([rgb, *(COLORS[n] for n in names)], np.float64))  # (1 + N, 3)
    distances = np.linalg.norm(lab[1:] - lab[0], axis=1)
    return names[int(np.argmin(distances))]


def cast(plan: ScenePlan, cameos: Sequence[CameoReference]) -> ScenePlan:
    """`plan` with the cameos that carry a likeness drawn into its characters (step 3).
    A cameo without one (a learned engine's plain reference) leaves the plan alone."""
    likenesses = [c for c in cameos if c.likeness is not None]
    if len(cameos) > MAX_CAST:
        raise InvalidRequest(
            f"cameos: a video casts at most {MAX_CAST}, got {len(cameos)}", param="cameos"
        )
    if not likenesses:
        return plan
    out = plan.model_copy(deep=True)
    taken: set[int] = set()
    for cameo in likenesses:
        assert cameo.likeness is not None  # filtered above
        name = _name(cameo, len(taken))
        index = _character_for(out, name, taken)
        if index is None:  # nobody left to cast: a new character joins the scene
            if len(out.characters) >= MAX_CAST:  # cannot happen with ≤ MAX_CAST cameos
                raise InvalidRequest(
                    f"cameos: the scene's {len(out.characters)} characters are all cast",
                    param="cameos",
                )
            sides = {c.position for c in out.characters}
            out.characters.append(
                CharacterSpec(
                    name=name,
                    kind="person",
                    appearance=appearance_of(cameo.likeness, "person"),
                    voice=voice_of(cameo.likeness),
                    position="right" if "left" in sides else "left",
                )
            )
            index = len(out.characters) - 1
            out.notes.append(f"@{name} joins the scene, drawn and voiced from their cameo")
        else:
            character = out.characters[index]
            # The person as they are: a cameo cast as "a girl" or "a robot" is drawn as
            # themselves, at an adult's height.
            kind: CharacterKind = character.kind if character.kind in ADULT_KINDS else "person"
            _rename(out, character.name, name)
            out.characters[index] = character.model_copy(
                update={
                    "name": name,
                    "kind": kind,
                    "appearance": appearance_of(cameo.likeness, kind),
                    "voice": voice_of(cameo.likeness),
                }
            )
            out.notes.append(
                f"@{name} is cast as the {character.kind} {character.name!r}, drawn and "
                "voiced from their cameo"
            )
        taken.add(index)
    return ScenePlan.model_validate(out.model_dump())  # checked as any plan is


def likeness_reference(
    likeness: Likeness,
    *,
    handle: str,
    cameo_id: str | None = None,
    grant: str | None = None,
    kind: CharacterKind = "person",
) -> CameoReference:
    """The cameo as every engine takes it: the likeness (the sim draws it), and the
    portrait and voice sample of the character it draws (a learned engine's references;
    the eval's identity check compares clips with that portrait)."""
    from reelforge.engines.dit.references import CameoReference, character_reference

    character = CharacterSpec(
        name=handle, kind=kind, appearance=appearance_of(likeness, kind), voice=voice_of(likeness)
    )
    drawn = character_reference(character)
    return CameoReference(
        image=drawn.image,
        voice=drawn.voice,
        likeness=likeness,
        handle=handle,
        cameo_id=cameo_id,
        grant=grant,
    )


@dataclass(frozen=True)
class CastLikeness:
    """A cameo a stored video casts, as the job needs it (read from the database)."""

    cameo_id: str
    handle: str
    likeness: Likeness
    grant: str  # "owner", the access level that allowed it ("everyone", "mutuals"), or a grant id


def cast_likenesses(db: Session, video_id: str) -> list[CastLikeness]:
    """The cameos video `video_id` casts (its cameo_uses rows, in the order they were
    cast) that can be drawn: not removed, not deleted, with a likeness (a character cameo,
    a pet or an object, has none: the planner draws it from the prompt's words)."""
    rows = db.execute(
        select(CameoUse, Cameo)
        .join(Cameo, Cameo.id == CameoUse.cameo_id)
        .where(
            CameoUse.video_id == video_id,
            CameoUse.status != "removed",
            Cameo.deleted_at.is_(None),
            Cameo.likeness_json.is_not(None),
        )
        .order_by(CameoUse.id)
    ).all()
    casts = []
    for use, cameo in rows:
        if use.grant_id is not None:
            grant = use.grant_id
        elif use.caster_id == cameo.owner_id:
            grant = "owner"
        else:
            grant = cameo.access
        likeness = Likeness.from_dict(json.loads(cameo.likeness_json or "{}"))
        casts.append(CastLikeness(cameo.id, cameo.handle, likeness, grant))
    return casts


def references_of(casts: Sequence[CastLikeness]) -> tuple[CameoReference, ...]:
    """What `pipeline.generate(cameos=...)` takes for these casts."""
    return tuple(
        likeness_reference(c.likeness, handle=c.handle, cameo_id=c.cameo_id, grant=c.grant)
        for c in casts
    )


def cameo_references(db: Session, video_id: str) -> tuple[CameoReference, ...]:
    """The cameos of stored video `video_id`, ready for the pipeline (the job worker's)."""
    return references_of(cast_likenesses(db, video_id))


def random_likeness(rng: np.random.Generator) -> Likeness:
    """A plausible likeness, as a take could measure one: the recaptioner's skin and hair
    palettes with a little measurement noise, a named shirt colour, any hair length and
    face shape, glasses on one in three, a voice between 85 and 260 Hz at 3-5.5
    syllables per second. The eval's cameos (eval/runner.py) are these."""

    def noisy(rgb: RGB) -> RGB:
        r, g, b = (int(np.clip(v + rng.integers(-8, 9), 0, 255)) for v in rgb)
        return (r, g, b)

    shirts = ("red", "blue", "green", "yellow", "purple", "orange", "pink", "cyan", "white")
    lengths: tuple[HairLength, ...] = ("none", "short", "medium", "long")
    shapes: tuple[FaceShape, ...] = ("round", "oval", "long")
    return Likeness(
        skin_rgb=noisy(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]),
        hair_rgb=noisy(NATURAL_HAIR[int(rng.integers(len(NATURAL_HAIR)))]),
        hair_length=lengths[int(rng.integers(len(lengths)))],
        shirt_rgb=noisy(COLORS[shirts[int(rng.integers(len(shirts)))]]),
        glasses=bool(rng.random() < 1 / 3),
        face_shape=shapes[int(rng.integers(len(shapes)))],
        voice_pitch_hz=round(float(rng.uniform(85.0, 260.0)), 1),
        speech_rate=round(float(rng.uniform(3.0, 5.5)), 2),
    )


def _name(cameo: CameoReference, position: int) -> str:
    handle = (cameo.handle or "").strip().removeprefix("@")
    return handle or f"cameo{position + 1}"


def _character_for(plan: ScenePlan, name: str, taken: set[int]) -> int | None:
    """The index of the character `name` names, else of the first one not yet cast."""
    free = [i for i in range(len(plan.characters)) if i not in taken]
    for i in free:
        if plan.characters[i].name.lower() == name.lower():
            return i
    return free[0] if free else None


def _rename(plan: ScenePlan, old: str, new: str) -> None:
    """Things aimed at a character ("the dog follows Nora") follow its new name."""
    if old == new:
        return
    for thing in plan.things:
        if thing.target == old:
            thing.target = new


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB 0..255 → (N, 3) CIELAB."""
    pixels = (rgb.astype(np.float32) / 255.0)[None]  # (1, N, 3)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB)[0].astype(np.float64)
