"""The content classifier: multinomial logistic regression in numpy over three kinds of
evidence about one normalised text.

    features (N, 404) = [ MiniLM embedding (384)
                        | highest cosine similarity to each class's exemplars (7)
                        | lexicon: capped weak-term counts, strong-term flags, minor flag (13) ]
    probabilities (N, 7) = softmax(((features - mean) / scale) @ weights + bias)

The classes are "benign" and the six content categories. Training is in `train.py`; the
weights, the standardisation, and the exemplar embeddings (so inference need not embed the
exemplars again) live in one small `.npz` next to the data they were trained on, together
with a digest of that data so a stale file is detected.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from reelforge.errors import ConfigError
from reelforge.recaption.embedding import SentenceEncoder
from reelforge.safety.decision import BENIGN, CONTENT_CATEGORIES
from reelforge.safety.lexicon import LEXICON_FEATURES, Lexicon, LexiconHit
from reelforge.safety.normalize import NormalizedText, Normalizer

__all__ = ["CLASSES", "Featurizer", "LinearModel", "TextEvidence", "read_exemplars"]

CLASSES = (BENIGN, *CONTENT_CATEGORIES)
F32 = NDArray[np.float32]


@dataclass(frozen=True)
class TextEvidence:
    """Everything the classifier looked at for one text, kept for the decision."""

    text: NormalizedText
    lexicon_hits: tuple[LexiconHit, ...]
    mentions_minor: bool


def read_exemplars(path: Path) -> dict[str, list[str]]:
    try:
        exemplars = json.loads(path.read_text(encoding="utf-8"))["exemplars"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the safety exemplars {path}: {exc}") from exc
    missing = [c for c in CLASSES if not exemplars.get(c)]
    if missing:
        raise ConfigError(f"safety exemplars {path} have none for {missing}")
    return {c: [str(s) for s in exemplars[c]] for c in CLASSES}


def embed_exemplars(
    exemplars: dict[str, list[str]], encoder: SentenceEncoder, normalizer: Normalizer
) -> tuple[F32, NDArray[np.int64]]:
    """Embeddings (E, 384) of every exemplar, normalised like prompts, and their class
    indices (E,)."""
    texts = [normalizer.normalize(s).clean for c in CLASSES for s in exemplars[c]]
    labels = np.array([i for i, c in enumerate(CLASSES) for _ in exemplars[c]], dtype=np.int64)
    return encoder.encode(texts), labels


class Featurizer:
    def __init__(
        self,
        encoder: SentenceEncoder,
        normalizer: Normalizer,
        lexicon: Lexicon,
        exemplar_embeddings: F32,
        exemplar_labels: NDArray[np.int64],
    ) -> None:
        self.encoder = encoder
        self.normalizer = normalizer
        self.lexicon = lexicon
        self._exemplars = exemplar_embeddings  # (E, 384)
        # (C, E) mask: which exemplars belong to each class.
        self._class_mask = exemplar_labels[None, :] == np.arange(len(CLASSES))[:, None]

    @property
    def names(self) -> list[str]:
        return [
            *(f"embedding:{i}" for i in range(self.encoder.dim)),
            *(f"exemplar:{c}" for c in CLASSES),
            *LEXICON_FEATURES,
        ]

    def evidence(self, text: str | NormalizedText) -> TextEvidence:
        normalized = self.normalizer.normalize(text) if isinstance(text, str) else text
        return TextEvidence(
            normalized,
            tuple(self.lexicon.hits(normalized)),
            self.lexicon.mentions_minor(normalized),
        )

    def features(self, evidence: Sequence[TextEvidence]) -> F32:
        """(N, F) float32 features for `evidence`, in order."""
        embeddings = self.encoder.encode([e.text.clean for e in evidence])  # (N, 384)
        similarity = embeddings @ self._exemplars.T  # (N, E)
        # Highest similarity within each class: (N, 1, E) masked by (1, C, E) -> (N, C).
        per_class = np.where(self._class_mask[None], similarity[:, None, :], -1.0).max(axis=2)
        lexical = np.stack(
            [Lexicon.features(e.lexicon_hits, e.mentions_minor) for e in evidence]
        ).reshape(len(evidence), len(LEXICON_FEATURES))
        return np.concatenate([embeddings, per_class.astype(np.float32), lexical], axis=1)


@dataclass(frozen=True)
class LinearModel:
    weights: F32  # (F, C)
    bias: F32  # (C,)
    mean: F32  # (F,) feature means over the training set
    scale: F32  # (F,) feature standard deviations (floored), same
    exemplar_embeddings: F32  # (E, 384)
    exemplar_labels: NDArray[np.int64]  # (E,)
    data_digest: str  # of the prompts, exemplars and lexicon it was trained on

    def probabilities(self, features: F32) -> F32:
        """(N, C) class probabilities, columns in CLASSES order."""
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return (odds / odds.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            weights=self.weights,
            bias=self.bias,
            mean=self.mean,
            scale=self.scale,
            exemplar_embeddings=self.exemplar_embeddings,
            exemplar_labels=self.exemplar_labels,
            classes=np.array(CLASSES),
            data_digest=np.array(self.data_digest),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with np.load(path, allow_pickle=False) as f:
                classes = tuple(str(c) for c in f["classes"])
                if classes != CLASSES:
                    raise ConfigError(
                        f"safety classifier {path} has classes {classes}, expected {CLASSES}"
                    )
                return cls(
                    weights=f["weights"].astype(np.float32),
                    bias=f["bias"].astype(np.float32),
                    mean=f["mean"].astype(np.float32),
                    scale=f["scale"].astype(np.float32),
                    exemplar_embeddings=f["exemplar_embeddings"].astype(np.float32),
                    exemplar_labels=f["exemplar_labels"].astype(np.int64),
                    data_digest=str(f["data_digest"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the safety classifier {path}: {exc} "
                "(retrain with `python -m reelforge.safety.train`)"
            ) from exc
