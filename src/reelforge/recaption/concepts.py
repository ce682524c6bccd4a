"""Map nouns the sim does not know onto the nearest concept it does, by meaning.

Uses all-MiniLM-L6-v2 (numpy port in `embedding.py`): "a watermelon" lands on "melon",
"a hallway" on "room". A match must also beat a set of anchors for things the sim cannot
draw (abstract words, animals, vehicles, furniture): "a moment" or "a dog" is nearer to
those than to any object, so it is left out instead of becoming a box. Objects compare
bare nouns; places compare "a photo of a <noun>", which separates settings better.
Concept embeddings are computed once per process, and only when a prompt has an unknown
noun.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from reelforge.recaption.embedding import shared_encoder
from reelforge.recaption.vocabulary import (
    OBJECT_CONCEPTS,
    SETTING_CONCEPTS,
    ObjectConcept,
    SettingConcept,
)
from reelforge.shipped import shared

# Things the sim cannot draw. A noun nearer to one of these than to every concept is
# not mapped at all.
UNDRAWABLE = (
    "moment",
    "time",
    "idea",
    "way",
    "feeling",
    "thing",
    "reason",
    "while",
    "kind",
    "bit",
    "lot",
    "sound",
    "color",
    "motion",
    "movement",
    "day",
    "scene",
    "view",
    "shot",
    "style",
    "mood",
    "person",
    "animal",
    "dog",
    "cat",
    "bird",
    "tree",
    "car",
    "chair",
    "music",
    "story",
    "light",
)
Domain = Literal["object", "setting"]
EXACT_ONLY_SETTINGS = frozenset(
    ("space", "sky", "clouds", "snow", "mars", "orbit", "galaxy", "peak", "pitch")
)


@dataclass(frozen=True)
class Match:
    noun: str
    concept: ObjectConcept | SettingConcept
    similarity: float  # cosine similarity to the concept
    margin: float  # similarity minus that of the nearest undrawable anchor


class ConceptIndex:
    def __init__(self, model_dir: Path | None = None):
        self._encoder = shared_encoder(model_dir)
        self._concepts = {
            "object": self._embed([c.noun for c in OBJECT_CONCEPTS], "object"),  # (N_obj, 384)
            "setting": self._embed([c.noun for c in SETTING_CONCEPTS], "setting"),  # (N_set, 384)
        }
        # Places named by words too vague to stand in for others ("a library" is not
        # "space"): matched only when the prompt says them.
        self._exact_only = np.array([c.noun in EXACT_ONLY_SETTINGS for c in SETTING_CONCEPTS])
        self._anchors = {
            domain: self._embed(list(UNDRAWABLE), domain) for domain in ("object", "setting")
        }  # (N_anchor, 384) each

    def _embed(self, nouns: list[str], domain: Domain) -> np.ndarray:
        texts = nouns if domain == "object" else [f"a photo of a {n}" for n in nouns]
        return self._encoder.encode(texts)

    def nearest(self, noun: str, among: Domain) -> Match:
        query = self._embed([noun], among)[0]  # (384,)
        scores = self._concepts[among] @ query
        if among == "setting":
            scores = np.where(self._exact_only, -1.0, scores)
        anchor_scores = np.where(np.array(UNDRAWABLE) == noun, -1.0, self._anchors[among] @ query)
        best = int(scores.argmax())
        concepts: tuple[ObjectConcept, ...] | tuple[SettingConcept, ...] = (
            OBJECT_CONCEPTS if among == "object" else SETTING_CONCEPTS
        )
        return Match(
            noun, concepts[best], float(scores[best]), float(scores[best] - anchor_scores.max())
        )


def concept_index(model_dir: Path | None = None) -> ConceptIndex:
    """The concept index over `model_dir`'s encoder, built once per process (shipped.py)."""
    return shared("concept index", model_dir, lambda: ConceptIndex(model_dir))
