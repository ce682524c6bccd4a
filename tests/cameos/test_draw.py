"""What the sim does with a cameo: a Likeness drawn and voiced (cameos/draw.py), cast into
a plan, and the pipeline's checks around it. The identity check of the eval
(eval/identity.py) is the judge of whether a clip shows the likeness."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from reelforge import pipeline
from reelforge.cameos.draw import (
    PITCH_TO_F0_HZ,
    appearance_of,
    cast,
    likeness_reference,
    nearest_color,
    random_likeness,
    voice_of,
)
from reelforge.cameos.likeness import Likeness
from reelforge.engines.dit.references import character_reference, random_character
from reelforge.engines.sim import SimEngine
from reelforge.engines.sim.speech import synthesize
from reelforge.errors import InvalidRequest
from reelforge.eval.characters import find_faces
from reelforge.eval.identity import identity_score
from reelforge.eval.reader import read_clip
from reelforge.recaption import detailed_caption
from reelforge.settings import Settings
from reelforge.types import (
    Appearance,
    CharacterSpec,
    Line,
    Request,
    ScenePlan,
    ThingSpec,
    Voice,
)

ALICE = Likeness(
    skin_rgb=(198, 134, 90),
    hair_rgb=(170, 70, 30),
    hair_length="medium",
    shirt_rgb=(40, 95, 215),
    glasses=True,
    face_shape="long",
    voice_pitch_hz=210.0,
    speech_rate=4.0,
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("cameo-draw"), visible_watermark=False)


# -- 1. the look ---------------------------------------------------------------------------


def test_the_appearance_is_the_likeness():
    look = appearance_of(ALICE, "woman")
    assert look.skin_rgb == ALICE.skin_rgb and look.hair_rgb == ALICE.hair_rgb
    assert look.shirt_rgb == ALICE.shirt_rgb and look.shirt_color == "blue"
    assert look.hair_style == "medium" and look.glasses and look.face_shape == "long"
    assert look.height_m == 1.66


@pytest.mark.parametrize(
    ("length", "style"),
    [("none", "bald"), ("short", "short"), ("medium", "medium"), ("long", "long")],
)
def test_hair_length_gives_the_hair_style(length, style):
    assert appearance_of(dataclasses.replace(ALICE, hair_length=length)).hair_style == style


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 45, 35), "red"),
        ((30, 200, 210), "cyan"),
        ((245, 245, 240), "white"),
        ((30, 30, 30), "black"),
    ],
)
def test_the_shirt_is_named_by_the_nearest_colour(rgb, name):
    assert nearest_color(rgb) == name


def test_plans_made_before_cameos_draw_as_they_did():
    old = {
        "skin_rgb": [241, 194, 150],
        "hair_rgb": [35, 25, 20],
        "hair_style": "short",
        "shirt_color": "red",
        "shirt_rgb": [214, 40, 40],
        "pants_rgb": [30, 30, 34],
        "height_m": 1.7,
    }
    look = Appearance.model_validate(old)
    assert not look.glasses and look.face_shape == "round"


def _portrait(look: Appearance) -> np.ndarray:
    character = CharacterSpec(name="p", appearance=look, voice=Voice(espeak_voice="en-us+f3"))
    return character_reference(character, size=256).image


def test_glasses_are_drawn_and_the_face_is_still_found():
    bare = appearance_of(dataclasses.replace(ALICE, glasses=False, face_shape="round"))
    with_glasses = bare.model_copy(update={"glasses": True})
    plain, spectacled = _portrait(bare), _portrait(with_glasses)
    faces = find_faces(cv2.resize(spectacled, (128, 128), interpolation=cv2.INTER_AREA)[None])
    assert len(faces) == 1
    # The rims: dark pixels around the eyes that the bare face does not have.
    face = faces[0]
    x, y, r = 2 * face.x, 2 * face.y, 2 * face.radius
    band = (slice(int(y - 0.4 * r), int(y + 0.2 * r)), slice(int(x - 0.7 * r), int(x + 0.7 * r)))
    dark = (spectacled[band].max(axis=-1) < 60).sum(), (plain[band].max(axis=-1) < 60).sum()
    assert dark[0] > dark[1] + 0.3 * r


def _head_height_px(image: np.ndarray, skin: tuple[int, int, int]) -> int:
    """Rows of the portrait's middle column whose colour is near the (shaded) skin."""
    column = image[:, image.shape[1] // 2 - 2 : image.shape[1] // 2 + 3].astype(np.int32)
    near = np.abs(column - np.array(skin)).max(axis=-1) < 60  # (H, 5)
    return int(near.any(axis=1).sum())


def test_a_long_face_is_taller_than_a_round_one():
    bald = dataclasses.replace(ALICE, hair_length="none", glasses=False)
    heights = {
        shape: _head_height_px(
            _portrait(appearance_of(dataclasses.replace(bald, face_shape=shape))), bald.skin_rgb
        )
        for shape in ("round", "oval", "long")
    }
    assert heights["round"] < heights["oval"] < heights["long"]
    assert heights["long"] >= 1.12 * heights["round"]


# -- 2. the voice --------------------------------------------------------------------------


def test_voice_variant_pitch_and_rate():
    low = voice_of(dataclasses.replace(ALICE, voice_pitch_hz=103.0, speech_rate=4.0))
    assert (low.espeak_voice, low.pitch, low.rate_wpm) == ("en-us+m3", 50, 160)
    high = voice_of(dataclasses.replace(ALICE, voice_pitch_hz=203.0, speech_rate=3.0))
    assert (high.espeak_voice, high.pitch, high.rate_wpm) == ("en-us+f3", 50, 120)
    # Beyond a variant's range: its nearest pitch; beyond Voice's rates: its bounds.
    assert voice_of(dataclasses.replace(ALICE, voice_pitch_hz=60.0)).pitch == 10
    assert voice_of(dataclasses.replace(ALICE, voice_pitch_hz=400.0)).pitch == 99
    assert voice_of(dataclasses.replace(ALICE, speech_rate=20.0)).rate_wpm == 350
    pitches = [
        voice_of(dataclasses.replace(ALICE, voice_pitch_hz=f)).pitch for f in (170, 200, 250)
    ]
    assert pitches == sorted(pitches) and len(set(pitches)) == 3


def test_a_likeness_without_a_voice_is_refused():
    with pytest.raises(InvalidRequest, match="voice_pitch_hz"):
        voice_of(dataclasses.replace(ALICE, voice_pitch_hz=float("nan")))
    with pytest.raises(InvalidRequest, match="speech_rate"):
        voice_of(dataclasses.replace(ALICE, speech_rate=0.0))


def _median_f0_hz(audio: np.ndarray, sample_rate: int = 48_000) -> float:
    """Median F0 of the voiced 40 ms windows, by autocorrelation (16 kHz)."""
    x = audio[::3].astype(np.float64)
    rate = sample_rate // 3
    window, hop = int(0.04 * rate), int(0.01 * rate)
    found = []
    for start in range(0, x.size - window, hop):
        w = x[start : start + window]
        if np.sqrt((w**2).mean()) < 0.05:
            continue
        w = w - w.mean()
        ac = np.correlate(w, w, "full")[window - 1 :]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(rate / lag)
    return float(np.median(found))


@pytest.mark.parametrize("f0_hz", [95.0, 130.0, 190.0, 240.0])
def test_the_fitted_voice_speaks_at_the_persons_pitch(f0_hz):
    voice = voice_of(dataclasses.replace(ALICE, voice_pitch_hz=f0_hz))
    said = synthesize("Hello, it is nice to meet you all today. We are happy.", voice)
    assert abs(_median_f0_hz(said.audio) / f0_hz - 1) < 0.12


def test_the_pitch_tables_rise():
    for table in PITCH_TO_F0_HZ.values():
        pitches, f0s = zip(*table, strict=True)
        assert list(pitches) == sorted(pitches) and list(f0s) == sorted(f0s)


# -- 3. casting ----------------------------------------------------------------------------


def _character(name: str, position: str = "left", kind: str = "woman") -> CharacterSpec:
    spec = random_character(np.random.default_rng(len(name)))
    return spec.model_copy(
        update={
            "name": name,
            "position": position,
            "kind": kind,
            "lines": [Line(text="hi", start_s=0.5)],
        }
    )


def _reference(handle: str, likeness: Likeness = ALICE):
    return likeness_reference(likeness, handle=handle)


def test_the_character_the_handle_names_is_cast():
    plan = ScenePlan(
        prompt="Nora and alice chat",
        characters=[_character("Nora"), _character("Alice", "right")],
        things=[ThingSpec(asset="dog", noun="dog", behaviour="follow", target="Alice")],
    )
    out = cast(plan, (_reference("alice"),))
    assert out.characters[0] == plan.characters[0]
    alice = out.characters[1]
    assert alice.name == "alice" and alice.appearance == appearance_of(ALICE, "woman")
    assert alice.voice == voice_of(ALICE) and alice.lines == plan.characters[1].lines
    assert alice.position == "right" and out.things[0].target == "alice"
    assert plan.characters[1].name == "Alice"  # the given plan is left as it was


def test_else_the_first_character_and_then_a_new_one():
    plan = ScenePlan(prompt="a girl waves", characters=[_character("Mia", kind="girl")])
    bob = dataclasses.replace(ALICE, voice_pitch_hz=110.0, hair_length="short")
    out = cast(plan, (_reference("alice"), _reference("bob", bob)))
    assert [c.name for c in out.characters] == ["alice", "bob"]
    assert out.characters[0].kind == "person"  # a cameo is drawn as the person it is
    assert out.characters[0].appearance.height_m == 1.66  # a higher voice's height
    assert out.characters[1].position == "right" and out.characters[1].lines == []
    assert out.characters[1].voice.espeak_voice == "en-us+m3"
    assert any("@bob joins the scene" in note for note in out.notes)
    empty = cast(ScenePlan(prompt="a red ball bounces"), (_reference("alice"),))
    assert [(c.name, c.position) for c in empty.characters] == [("alice", "left")]


def test_casting_is_refused_beyond_two_and_skips_cameos_without_a_likeness():
    plan = ScenePlan(prompt="three people", characters=[_character("A")])
    with pytest.raises(InvalidRequest) as caught:
        cast(plan, (_reference("a"), _reference("b"), _reference("c")))
    assert caught.value.param == "cameos"
    plain = character_reference(random_character(np.random.default_rng(0)))
    assert cast(plan, (plain,)) is plan


def test_the_same_likeness_draws_the_same_reference():
    one, two = _reference("alice"), _reference("alice")
    assert np.array_equal(one.image, two.image) and np.array_equal(one.voice, two.voice)
    assert one.likeness == ALICE and one.handle == "alice"


def test_random_likenesses_are_plausible_and_repeatable():
    likenesses = [random_likeness(np.random.default_rng(i)) for i in range(40)]
    assert likenesses[3] == random_likeness(np.random.default_rng(3))
    assert {lk.hair_length for lk in likenesses} == {"none", "short", "medium", "long"}
    assert 0 < sum(lk.glasses for lk in likenesses) < 40
    assert all(85 <= lk.voice_pitch_hz <= 260 for lk in likenesses)


# -- 4. through the pipeline ---------------------------------------------------------------


def test_the_sim_draws_and_voices_a_cast_cameo(tmp_path, settings):
    reference = _reference("alice")
    request = Request(
        prompt='@alice says "Hello there, nice to see you" in a park', seconds=2, seed=4
    )
    result = pipeline.generate(
        request, tmp_path / "alice.mp4", settings=settings, cameos=(reference,)
    )
    character = result.plan.characters[0]
    assert character.name == "alice" and character.appearance.glasses
    assert result.clip.speech and {s.character for s in result.clip.speech} == {"alice"}
    sidecar = json.loads(result.sidecar_path.read_text())
    assert sidecar["plan"]["characters"][0]["appearance"]["face_shape"] == "long"
    assert sidecar["cameos"] == 1 and "consent" not in sidecar  # no verified cameo id
    match = identity_score(read_clip(result.video_path).frames, reference.image)
    assert match.found, match


def test_a_clip_without_the_cameo_does_not_show_it(tmp_path, settings):
    request = Request(prompt='A woman says "Hello there" in a park', seconds=2, seed=4)
    result = pipeline.generate(request, tmp_path / "nobody.mp4", settings=settings)
    match = identity_score(read_clip(result.video_path).frames, _reference("alice").image)
    assert match.distance is not None and not match.found


def test_the_sim_refuses_a_cameo_it_cannot_draw(tmp_path, settings):
    plain = character_reference(random_character(np.random.default_rng(0)))
    request = Request(prompt="A man waves.", seconds=1, seed=0)
    with pytest.raises(InvalidRequest, match="without a likeness") as caught:
        pipeline.generate(request, tmp_path / "x.mp4", settings=settings, cameos=(plain,))
    assert caught.value.param == "cameos" and not (tmp_path / "x.mp4").exists()


def test_an_engine_without_cameos_refuses_them(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(
        SimEngine, "capabilities", dataclasses.replace(SimEngine.capabilities, cameos=False)
    )
    request = Request(prompt="A man waves.", seconds=1, seed=0)
    with pytest.raises(InvalidRequest, match="engine sim cannot take cameos") as caught:
        pipeline.generate(request, tmp_path / "y.mp4", settings=settings, cameos=(_reference("a"),))
    assert caught.value.param == "cameos" and not Path(tmp_path / "y.mp4").exists()


def test_the_caption_says_who_is_cast_and_their_glasses():
    plan = cast(ScenePlan(prompt="a red ball bounces"), (_reference("alice"),))
    caption = detailed_caption(plan)
    assert "alice, a person with medium hair and glasses in a blue shirt" in caption
