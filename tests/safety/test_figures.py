"""Public figures need their own cameo's consent; living musicians may not be imitated."""

from __future__ import annotations

import pytest

from reelforge.safety import (
    EVERYONE,
    InMemoryConsent,
    InMemoryRightsRegistry,
    PolicyEngine,
)
from reelforge.safety.resources import TextTools


@pytest.fixture
def consent() -> InMemoryConsent:
    return InMemoryConsent()


@pytest.fixture
def engine(consent: InMemoryConsent) -> PolicyEngine:
    return PolicyEngine(consent=consent, registry=InMemoryRightsRegistry())


def test_the_list_has_a_few_hundred_people(tools: TextTools) -> None:
    figures = tools.figures.figures
    assert len(figures) >= 300
    assert len({f.key for f in figures}) == len(figures)
    kinds = {f.kind for f in figures}
    assert {"politician", "actor", "musician", "athlete", "executive"} <= kinds


def test_public_figure_blocked_unless_their_cameo_allows_the_requester(
    engine: PolicyEngine, consent: InMemoryConsent
) -> None:
    prompt = "Tom Hanks eating a sandwich on a park bench"
    blocked = engine.check_request(prompt, requester="alice")
    assert not blocked.allowed and blocked.category == "public_figure"
    assert "Tom Hanks" in blocked.reason

    consent.grant("tom-hanks", "alice")
    assert engine.check_request(prompt, requester="alice").allowed
    still_blocked = engine.check_request(prompt, requester="bob")
    assert not still_blocked.allowed and still_blocked.category == "public_figure"

    consent.grant("tom-hanks", EVERYONE)
    assert engine.check_request(prompt, requester="bob").allowed


@pytest.mark.parametrize(
    "prompt",
    [
        "Barack Obama giving a speech",
        "obama giving a speech",  # alias, lower case
        "Obamma giving a speech",  # misspelt
        "Вarack Оbama giving a speech",  # Cyrillic В and О
        "Zuckerburg surfing",  # misspelt long alias
        "Carlos Alcaras playing tennis",  # a full name tolerates any small typo
        "Beyoncé dancing in the rain",  # accent
        "Trump playing golf",  # a cased alias written with a capital
        "Drake walking his dog",
    ],
)
def test_public_figure_spellings_are_found(engine: PolicyEngine, prompt: str) -> None:
    decision = engine.check_request(prompt, requester="alice")
    assert not decision.allowed and decision.category == "public_figure", prompt


@pytest.mark.parametrize(
    "prompt",
    [
        "a drake and a duck swimming on a pond",  # the bird
        "Drake the duck swimming on a pond",  # a capitalised alias near a word that rules it out
        "a painting of the Madonna and Child",
        "an ice cube melting in a glass",
        "a trump card on a poker table",
        "putting on a hat",  # one edit from "Putin", but not a name
        "a documentary about Alcatraz prison",  # a letter more than "Alcaraz": a place
        "a bee sting on an arm",
    ],
)
def test_ordinary_words_that_look_like_names_are_allowed(engine: PolicyEngine, prompt: str) -> None:
    assert engine.check_request(prompt, requester="alice").allowed, prompt


@pytest.mark.parametrize(
    "prompt",
    [
        "a song in the style of Taylor Swift",
        "a pop track that sounds like Billie Eilish",
        "a new song by Ed Sheeran about the sea",
        "rap vocals like Kendrick Lamar over a jazz beat",
        "a ballad sung in the voice of Adele",
    ],
)
def test_imitating_living_musicians_is_blocked(engine: PolicyEngine, prompt: str) -> None:
    decision = engine.check_request(prompt, requester="alice")
    assert not decision.allowed and decision.category == "music_imitation", prompt
    assert "living artist" in decision.reason


@pytest.mark.parametrize(
    "prompt",
    [
        "a jazz song in the style of the 1950s",
        "a country ballad about a red truck",
        "an upbeat synth-pop track in the style of the eighties",
        "a lullaby sung softly by a grandmother",
    ],
)
def test_generic_music_styles_are_allowed(engine: PolicyEngine, prompt: str) -> None:
    assert engine.check_request(prompt, requester="alice").allowed, prompt


def test_imitation_allowed_by_the_artists_consent_or_a_licence(
    consent: InMemoryConsent,
) -> None:
    registry = InMemoryRightsRegistry()
    engine = PolicyEngine(consent=consent, registry=registry)
    prompt = "a song in the style of Taylor Swift"
    consent.grant("taylor-swift", "alice")
    assert engine.check_request(prompt, requester="alice").allowed
    registry.register("swift-label", "Taylor Swift", kind="artist")
    registry.grant_licence("swift-label", "bob", "Taylor Swift")
    assert engine.check_request(prompt, requester="bob").allowed
    assert not engine.check_request(prompt, requester="carol").allowed


def test_speech_naming_a_public_figure_is_checked(engine: PolicyEngine) -> None:
    decision = engine.check_request(
        "a man talks to the camera", requester="alice", speech=["Hi, I am Elon Musk."]
    )
    assert not decision.allowed and decision.category == "public_figure"
