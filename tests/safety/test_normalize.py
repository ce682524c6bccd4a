"""Normalisation undoes each obfuscation trick and leaves ordinary words alone."""

from __future__ import annotations

import pytest

from reelforge.safety.normalize import edit_distance
from reelforge.safety.resources import TextTools


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("n u d e woman", "nude woman"),  # spacing
        ("a n u d e woman", "a nude woman"),  # ... next to a one-letter word
        ("n.u.d.e woman", "nude woman"),  # punctuation between letters
        ("n*u*d*e woman", "nude woman"),
        ("nu*de woman", "nude woman"),  # a star hiding nothing
        ("p*rn video", "porn video"),  # a star hiding a vowel
        ("nu\u200bde wo\u200dman", "nude woman"),  # zero-width characters
        ("nцde wоman", "nude woman"),  # Cyrillic look-alikes
        ("ｎｕｄｅ woman", "nude woman"),  # full-width letters
        ("𝐧𝐮𝐝𝐞 woman", "nude woman"),  # mathematical bold letters
        ("nüdé woman", "nude woman"),  # accents
        ("nud3 woman", "nude woman"),  # leetspeak
        ("$ex video", "sex video"),
        ("K!LL him", "kill him"),
        ("d3c@p1t@t3d body", "decapitated body"),
        ("nuuuuude woman", "nude woman"),  # repeated letters
        ("nakid woman", "naked woman"),  # misspelling of a lexicon term
        ("beheadding", "beheading"),
        ("behe-aded man", "beheaded man"),
        ("a sui cide note", "a suicide note"),  # fragments of a lexicon term
    ],
)
def test_obfuscations_are_undone(tools: TextTools, written: str, read: str) -> None:
    assert tools.normalizer.normalize(written).clean == read


@pytest.mark.parametrize(
    "text",
    [
        "nudge the ball",  # one edit from "nude", but a real word
        "three silver kites falling",  # an inflected real word is not a misspelt slur
        "a 3d model in 4k at 60fps",  # numbers with units are not leetspeak
        "h2o in a glass",
        "be heading home",  # fragments that would spell a lexicon term, but are words
        "a well known actor",
        "the cat sat on the mat",
    ],
)
def test_ordinary_text_is_left_alone(tools: TextTools, text: str) -> None:
    assert tools.normalizer.normalize(text).clean == text


def test_capitalisation_is_remembered_for_names(tools: TextTools) -> None:
    tokens = tools.normalizer.normalize("Drake sings on a pond").tokens
    assert [t.capitalized for t in tokens] == [True, False, False, False, False]


def test_edit_distance_counts_transpositions_as_one() -> None:
    assert edit_distance("naked", "nakde", 2) == 1
    assert edit_distance("naked", "nked", 2) == 1
    assert edit_distance("naked", "ample", 2) == 3  # "more than the limit"
