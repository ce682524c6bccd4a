"""Dialogue longer than the clip can hold is cut at planning, with a note (issue 21)."""

from __future__ import annotations

import json

import pytest

from reelforge.pipeline import generate
from reelforge.recaption import recaption
from reelforge.recaption.rules import (
    FIRST_LINE_S,
    LINE_PAUSE_S,
    fit_dialogue,
    fit_plan_dialogue,
    speaking_s,
)
from reelforge.settings import Settings
from reelforge.types import Request

SENTENCE = "I have been waiting here all day for the bus and it never came, so I walked home. "
LONG_LINE = (SENTENCE * 400)[:31_900].strip()  # 31,900 characters, about 6,000 words
LONG_PROMPT = f'A man in a kitchen says "{LONG_LINE}"'


@pytest.fixture(scope="module")
def plain() -> Settings:
    return Settings()


def test_a_32000_character_line_is_cut_to_what_a_4_s_clip_holds(plain):
    assert len(LONG_PROMPT) > 31_900
    plan, caption = recaption(LONG_PROMPT, 0, plain, seconds=4.0)

    (man,) = plan.characters
    (line,) = man.lines
    # A start of the line, ending at a word boundary, said within the clip at the fastest
    # pace, and the longest such start: one more word would not fit.
    assert LONG_LINE.startswith(line.text) and LONG_LINE[len(line.text)] in " ,"
    assert speaking_s(line.text) <= 4.0 - FIRST_LINE_S
    next_word_end = LONG_LINE.index(" ", len(line.text) + 1)
    assert speaking_s(LONG_LINE[:next_word_end]) > 4.0 - FIRST_LINE_S
    assert 10 <= len(line.text.split()) <= 16
    # The user is told, in the plan's notes (the sidecar's and the API's "understood").
    (note,) = [n for n in plan.notes if n.startswith("dialogue cut")]
    total_words = len(LONG_LINE.split())
    assert f"{len(line.text.split())} of {total_words} words kept" in note
    assert "4 s clip" in note
    # Nothing the plan carries holds the cut part.
    assert len(caption) < 2_000
    assert all(len(entry.event) < 200 for entry in plan.timeline)


def test_whole_lines_kept_the_first_that_does_not_fit_shortened_the_rest_cut():
    lines = ["One two three.", "Four five six seven.", "eight " * 30 + "end.", "Never said."]
    kept, note = fit_dialogue(lines, seconds=5.0)

    assert kept[:2] == lines[:2]
    assert len(kept) == 3 and lines[2].startswith(kept[2]) and kept[2] != lines[2]
    used_s = speaking_s(lines[0]) + speaking_s(lines[1]) + 2 * LINE_PAUSE_S
    assert speaking_s(kept[2]) <= 5.0 - FIRST_LINE_S - used_s
    assert note is not None and "2 of 4 lines cut or shortened" in note


def test_dialogue_that_fits_is_not_touched(plain):
    prompt = 'A woman says "Is it raining?" and the man replies "Only a little."'
    plan, _ = recaption(prompt, 0, plain, seconds=4.0)
    assert [line.text for c in plan.characters for line in c.lines] == [
        "Is it raining?",
        "Only a little.",
    ]
    assert not [n for n in plan.notes if n.startswith("dialogue cut")]
    assert fit_plan_dialogue(plan, 4.0) is plan


def test_a_line_of_one_endless_word_is_left_out():
    kept, note = fit_dialogue(["a" * 30_000], seconds=20.0)
    assert kept == [] and note is not None and "0 of 1 words kept" in note
    assert len(note) < 300


def test_plans_made_elsewhere_are_cut_in_the_order_lines_start(plain):
    # A remix's source plan or an endpoint's: made for a longer clip than this one.
    plan, _ = recaption('A man says "Hello there." A woman says "Good morning to you."', 0, plain)
    _, woman = plan.characters
    woman.lines[0].text = LONG_LINE

    fitted = fit_plan_dialogue(plan, seconds=3.0)

    assert [line.text for line in fitted.characters[0].lines] == ["Hello there."]
    (shortened,) = fitted.characters[1].lines
    assert LONG_LINE.startswith(shortened.text) and len(shortened.text) < 60
    assert any(n.startswith("dialogue cut to what a 3 s clip") for n in fitted.notes)
    assert woman.lines[0].text == LONG_LINE  # the given plan is not changed


def test_policy_and_speech_see_only_the_dialogue_that_fits(tmp_path):
    """The whole chain on the 32,000-character prompt, 1 s clip: the speech synthesised and
    the transcript the policy checks hold the fitted line only (before the cut this
    synthesised the whole line: 14 GB and minutes for a 4 s clip)."""
    settings = Settings(data_dir=tmp_path / "data", visible_watermark=False)
    request = Request(prompt=LONG_PROMPT, seconds=1.0, seed=3)

    result = generate(request, tmp_path / "long.mp4", settings=settings)

    (planned,) = [line.text for c in result.plan.characters for line in c.lines]
    assert LONG_LINE.startswith(planned) and speaking_s(planned) <= 1.0 - FIRST_LINE_S
    assert [segment.text for segment in result.clip.speech] == [planned]
    sidecar = json.loads(result.sidecar_path.read_text())
    assert any(n.startswith("dialogue cut to what a 1 s clip") for n in sidecar["plan"]["notes"])
