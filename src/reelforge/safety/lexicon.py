"""Word lists: per-category terms, words that mark a minor, and a phrase matcher that the
name lists (public figures, the rights registry) share.

Matching runs on `NormalizedText` tokens, never on raw strings, so a term is found however
it was disguised. Strong terms block on their own; weak terms are only evidence for the
classifier (`features`), because "shooting a film" and "a knife in a kitchen" are fine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from reelforge.errors import ConfigError
from reelforge.safety.decision import CONTENT_CATEGORIES
from reelforge.safety.normalize import NormalizedText, Normalizer, edit_distance, max_typos

__all__ = ["Lexicon", "LexiconHit", "Phrase", "PhraseHit", "PhraseIndex", "read_lexicon"]

P = TypeVar("P")

# "a 12 year old", "12yo", "12 y o", "twelve-year-old" is in the word list.
_AGE = re.compile(r"\b(\d{1,2}) ?(?:yo|y o|yrs? old|years? old|year olds)\b")
ADULT_AGE = 18
_WEAK_CAP = 3  # weak-term counts saturate: ten mentions of "blood" are not ten times worse

# One block of lexicon features per content category, then "mentions a minor".
LEXICON_FEATURES = (
    *(f"weak:{c}" for c in CONTENT_CATEGORIES),
    *(f"strong:{c}" for c in CONTENT_CATEGORIES),
    "minor",
)


@dataclass(frozen=True)
class Phrase(Generic[P]):
    words: tuple[str, ...]  # normalised tokens
    payload: P
    cased: bool = False  # every word must have been written with a capital


@dataclass(frozen=True)
class PhraseHit(Generic[P]):
    payload: P
    start: int  # token index of the first word
    end: int  # one past the last word


class PhraseIndex(Generic[P]):
    """Finds phrases in normalised text. A text word matches a phrase word when equal, when
    it is the plural with 's'/'es', or (with `fuzzy`) when it is not itself a known word
    and within `max_typos` edits. Single-word phrases shorter than seven letters only match
    exactly, since "puting" must not become "Putin"; longer ones only through typos that
    keep the length (a letter swapped or changed: "Zuckerburg"), since a letter more or
    less turns names into places ("Alcatraz" is not "Alcaraz")."""

    def __init__(
        self,
        phrases: Iterable[Phrase[P]],
        *,
        is_known: Callable[[str], bool],
        fuzzy: bool,
    ) -> None:
        self._phrases_by_first: dict[str, list[tuple[Phrase[P], bool]]] = {}
        vocabulary: set[str] = set()
        fuzzy_targets: set[str] = set()
        for phrase in phrases:
            if not phrase.words:
                continue
            may_fuzz = fuzzy and (len(phrase.words) > 1 or len(phrase.words[0]) >= 7)
            self._phrases_by_first.setdefault(phrase.words[0], []).append((phrase, may_fuzz))
            vocabulary.update(phrase.words)
            if may_fuzz:
                fuzzy_targets.update(w for w in phrase.words if max_typos(w))
        self._vocabulary = frozenset(vocabulary)
        self._fuzzy_by_initial: dict[str, list[str]] = {}
        for word in sorted(fuzzy_targets):
            self._fuzzy_by_initial.setdefault(word[0], []).append(word)
        self._is_known = is_known

    def __len__(self) -> int:
        return sum(len(v) for v in self._phrases_by_first.values())

    def find(self, text: NormalizedText) -> list[PhraseHit[P]]:
        tokens = text.tokens
        cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

        def forms(word: str) -> tuple[frozenset[str], frozenset[str]]:
            if word not in cache:
                cache[word] = self._forms(word)
            return cache[word]

        def matches(word: str, target: str, may_fuzz: bool, one_word: bool = False) -> bool:
            exact, fuzzy = forms(word)
            if target in exact:
                return True
            return may_fuzz and target in fuzzy and (not one_word or len(word) == len(target))

        hits: list[PhraseHit[P]] = []
        for start, token in enumerate(tokens):
            exact, fuzzy = forms(token.text)
            for first in exact | fuzzy:
                for phrase, may_fuzz in self._phrases_by_first.get(first, ()):
                    end = start + len(phrase.words)
                    one_word = len(phrase.words) == 1
                    if end > len(tokens) or not matches(token.text, first, may_fuzz, one_word):
                        continue
                    if not all(
                        matches(tokens[start + k].text, phrase.words[k], may_fuzz)
                        for k in range(1, len(phrase.words))
                    ):
                        continue
                    if phrase.cased and not all(t.capitalized for t in tokens[start:end]):
                        continue
                    hits.append(PhraseHit(phrase.payload, start, end))
        return hits

    def _forms(self, word: str) -> tuple[frozenset[str], frozenset[str]]:
        """Phrase words `word` is (exactly or as a plural), and those it misspells."""
        candidates = {word}
        if len(word) > 3 and word.endswith("s"):
            candidates.add(word[:-1])
            if word.endswith("es"):
                candidates.add(word[:-2])
        exact = frozenset(c for c in candidates if c in self._vocabulary)
        misspelt: set[str] = set()
        if not exact and len(word) >= 4 and word.isalpha() and not self._is_known(word):
            for target in self._fuzzy_by_initial.get(word[0], ()):
                if edit_distance(word, target, max_typos(target)) <= max_typos(target):
                    misspelt.add(target)
        return exact, frozenset(misspelt)


@dataclass(frozen=True)
class LexiconHit:
    category: str
    term: str
    strong: bool
    start: int
    end: int


def read_lexicon(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the safety lexicon {path}: {exc}") from exc
    missing = [c for c in CONTENT_CATEGORIES if c not in data.get("categories", {})]
    if missing or "minors" not in data:
        raise ConfigError(f"safety lexicon {path} lacks {missing or ['minors']}")
    return dict(data)


def lexicon_words(data: dict[str, object]) -> list[str]:
    """Every single word in the lexicon: what the normaliser repairs misspellings towards."""
    categories = data["categories"]
    assert isinstance(categories, dict)
    terms: list[str] = []
    for tiers in categories.values():
        terms += tiers["strong"] + tiers["weak"]
    minors = data["minors"]
    assert isinstance(minors, list)
    return sorted({word for term in [*terms, *minors] for word in term.split()})


class Lexicon:
    def __init__(self, data: dict[str, object], normalizer: Normalizer) -> None:
        categories = data["categories"]
        minors = data["minors"]
        assert isinstance(categories, dict) and isinstance(minors, list)
        phrases: list[Phrase[tuple[str, str, bool]]] = []
        for category in CONTENT_CATEGORIES:
            for tier in ("strong", "weak"):
                for term in categories[category][tier]:
                    words = normalizer.normalize(term).words
                    phrases.append(Phrase(words, (category, term, tier == "strong")))
        # The normaliser has already repaired misspellings towards these very terms.
        self._terms = PhraseIndex(phrases, is_known=normalizer.is_known, fuzzy=False)
        self._minors = PhraseIndex(
            [Phrase(normalizer.normalize(t).words, t) for t in minors],
            is_known=normalizer.is_known,
            fuzzy=False,
        )

    def hits(self, text: NormalizedText) -> list[LexiconHit]:
        return [
            LexiconHit(category, term, strong, hit.start, hit.end)
            for hit in self._terms.find(text)
            for category, term, strong in [hit.payload]
        ]

    def mentions_minor(self, text: NormalizedText) -> bool:
        if self._minors.find(text):
            return True
        return any(int(m.group(1)) < ADULT_AGE for m in _AGE.finditer(text.clean))

    @staticmethod
    def features(hits: Sequence[LexiconHit], minor: bool) -> NDArray[np.float32]:
        """(len(LEXICON_FEATURES),) float32: capped weak counts, strong flags, minor flag."""
        out = np.zeros(len(LEXICON_FEATURES), dtype=np.float32)
        n = len(CONTENT_CATEGORIES)
        for hit in hits:
            i = CONTENT_CATEGORIES.index(hit.category)
            if hit.strong:
                out[n + i] = 1.0
            else:
                out[i] = min(out[i] + 1.0 / _WEAK_CAP, 1.0)
        out[-1] = float(minor)
        return out
