"""Reading things and what they do: nouns → assets (measured on a hand-labelled set),
verbs → behaviours, who does what to whom, and saying what was understood."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelforge.assets.install import default_assets_dir
from reelforge.recaption import recaption
from reelforge.recaption.assets import asset_matcher
from reelforge.recaption.understood import understood
from reelforge.settings import Settings

LABELLED = Path(__file__).parent / "data" / "noun_assets.jsonl"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


def plan_of(prompt: str, settings: Settings):
    return recaption(prompt, 1, settings)[0]


def test_noun_to_asset_precision_on_the_labelled_set_is_at_least_90_percent() -> None:
    matcher = asset_matcher(default_assets_dir(), None, Settings().asset_min_similarity)
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    assert len([r for r in rows if r["assets"]]) >= 300
    right = wrong = missed = 0
    for row in rows:
        match = matcher.match(row["noun"])
        if match is None:
            missed += bool(row["assets"])
        elif match.asset_id in row["assets"]:
            right += 1
        else:
            wrong += 1  # includes drawing an abstract noun at all
    precision = right / (right + wrong)
    recall = right / (right + missed)
    print(f"precision {precision:.3f}, recall {recall:.3f} on {len(rows)} nouns")
    assert precision >= 0.90
    assert recall >= 0.85


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a golden retriever catches a frisbee on a beach at sunset",
         {"dog": ("catch", "frisbee"), "flying-disc": ("fly", None)}),
        ("two cars crash at an intersection in the rain", {"automobile": ("crash", None)}),
        ("a rocket launches from a desert pad", {"rocket": ("launch", None)}),
        ("waves crash on rocks at night",
         {"water-wave": ("crash", "rocks"), "rock": ("idle", None)}),
        ("A dog chases a cat through the park while a bird flies overhead",
         {"dog": ("chase", "cat"), "cat": ("walk", None), "bird": ("fly", None)}),
    ],
)  # fmt: skip
def test_everyday_prompts_become_things_that_act(
    prompt: str, expected: dict[str, tuple[str, str | None]], settings: Settings
) -> None:
    plan = plan_of(prompt, settings)
    got = {t.asset: (t.behaviour, t.target) for t in plan.things}
    assert got == expected
    assert not plan.left_out


def test_a_character_hands_the_verb_to_the_thing_they_act_on(settings: Settings) -> None:
    plan = plan_of("a girl plays the piano in a concert hall", settings)
    (piano,) = plan.things
    (girl,) = plan.characters
    assert (piano.asset, piano.behaviour, piano.target) == ("musical-keyboard", "play", girl.name)
    assert girl.action == "play"
    plan = plan_of("a chef flips a pancake and says 'perfect!'", settings)
    (pancake,) = plan.things
    (chef,) = plan.characters
    assert (pancake.asset, pancake.behaviour, pancake.target) == ("pancakes", "flip", chef.name)
    assert chef.lines[0].text == "perfect!"


def test_colours_counts_and_sizes_apply_to_things(settings: Settings) -> None:
    plan = plan_of("Three blue cars drive past a big red barn", settings)
    cars = next(t for t in plan.things if t.asset == "automobile")
    assert (cars.count, cars.color, cars.behaviour) == (3, "blue", "drive")
    assert cars.rgb is not None and cars.rgb[2] > cars.rgb[0]


def test_a_colour_before_a_named_thing_is_its_colour_not_a_fruit(settings: Settings) -> None:
    plan = plan_of("an orange butterfly flies over a garden", settings)
    assert [(t.asset, t.color) for t in plan.things] == [("butterfly", "orange")]


def test_nouns_with_no_drawing_are_left_out_and_said(settings: Settings) -> None:
    plan = plan_of("A rocket launches from a concrete gantry with great happiness", settings)
    assert [t.asset for t in plan.things] == ["rocket"]
    assert plan.left_out == ["gantry"]
    assert any("'gantry' is not something the sim can draw" in n for n in plan.notes)
    said = understood(plan)
    assert "left out: gantry" in said.line()
    assert "🚀 rocket (launch)" in said.line()


def test_substitutions_are_said(settings: Settings) -> None:
    said = understood(plan_of("a golden retriever catches a frisbee", settings))
    line = said.line()
    assert "golden retriever → 🐕 dog" in line
    assert "frisbee → 🥏 flying disc" in line


def test_a_prompt_of_which_nothing_is_understood_says_so(settings: Settings) -> None:
    assert understood(plan_of("🚀🌕✨", settings)).nothing
    assert understood(plan_of("東京の夜景", settings)).nothing
    assert not understood(plan_of("a dog", settings)).nothing


def test_other_languages_are_read_through_their_cldr_names(settings: Settings) -> None:
    plan = plan_of("un perro corre en la playa", settings)
    dog = next(t for t in plan.things if t.asset == "dog")
    assert dog.matched_by == "translation"
    plan = plan_of("ein Hund und eine Katze", settings)
    assert {"dog", "cat"} <= {t.asset for t in plan.things}


def test_what_is_only_heard_is_not_drawn(settings: Settings) -> None:
    plan = plan_of("A dog sits in the park. Waves crash nearby.", settings)
    assert [t.asset for t in plan.things] == ["dog"]
    assert plan.sound.ambience == "waves"


def test_people_named_by_their_trade_are_characters_who_talk(settings: Settings) -> None:
    plan = plan_of('A baker throws a baguette to a customer, who says "Thanks!"', settings)
    assert len(plan.characters) == 2
    (bread,) = plan.things
    assert (bread.asset, bread.behaviour) == ("baguette-bread", "throw")
    assert bread.target == plan.characters[0].name


def test_camera_moves_are_not_things_moving(settings: Settings) -> None:
    plan = plan_of("The camera zooms in on a sleeping cat", settings)
    (cat,) = plan.things
    assert cat.behaviour != "drive" and plan.camera.motion == "zoom_in"


@pytest.mark.parametrize(
    ("prompt", "asset", "behaviour"),
    [
        ("a cook spins a pizza on one finger", "pizza", "spin"),
        ("a man drops a letter into a mailbox", "envelope", "fall"),
        ("a boy shakes maracas at a party", "maracas", "play"),  # any verb on an instrument
        ("a saxophone player sways on stage", "saxophone", "play"),  # "an X player" holds X
    ],
)
def test_what_a_character_does_to_a_thing_the_thing_acts_out(
    prompt: str, asset: str, behaviour: str, settings: Settings
) -> None:
    plan = plan_of(prompt, settings)
    (person,) = plan.characters
    thing = next(t for t in plan.things if t.asset == asset)
    assert (thing.behaviour, thing.target) == (behaviour, person.name)


def test_named_objects_are_drawn_as_their_assets_on_their_physics_bodies(
    settings: Settings,
) -> None:
    plan = plan_of("a boy bounces a basketball on the street", settings)
    (ball,) = plan.objects
    assert (ball.kind, ball.asset, ball.tinted) == ("ball", "basketball", False)
    assert "1 🏀 basketball" in understood(plan).line()
    (ball,) = plan_of("a blue basketball bounces", settings).objects
    assert (ball.asset, ball.color, ball.tinted) == ("basketball", "blue", True)
    (ball,) = plan_of("a red ball bounces", settings).objects  # a shape word stays a shape
    assert ball.asset is None


def test_a_compound_the_library_names_beats_the_shape_word_inside_it(
    settings: Settings,
) -> None:
    plan = plan_of("a delivery truck crashes into a trash can", settings)
    assert not plan.objects  # not a "can" capsule
    assert [t.asset for t in plan.things] == ["delivery-truck", "wastebasket"]
    plan = plan_of("a fortune teller gazes into a crystal ball", settings)
    assert not plan.objects and [t.asset for t in plan.things] == ["crystal-ball"]
