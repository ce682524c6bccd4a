"""The content classifier: multinomial logistic regression in numpy over four kinds of
evidence about one normalised text.

    features (N, 418) = [ MiniLM embedding (384)
                        | highest cosine similarity to each class's exemplars (7)
                        | nearest training prompts of each class: mean cosine of the
                          closest 5, and the closest one (14)
                        | lexicon: capped weak-term counts, strong-term flags, minor flag (13) ]
    probabilities (N, 7) = softmax(((features - mean) / scale) @ weights + bias)

The classes are "benign" and the six content categories. Training is in `train.py`; the
weights, the standardisation, the exemplar embeddings and the training prompts' embeddings
(float16, the neighbours; so inference need not embed them again) live in one `.npz` next
to the data they were trained on, together with a digest of that data so a stale file is
detected.

Why the neighbours: a linear read of the embedding draws one plane per class, and
plainly worded harm ("... until it stops moving") lies on the benign side of it while
sitting close to a few training prompts that say the same thing. How close a text is to
its nearest labelled prompts of each class is evidence the plane cannot express. In
training, a prompt's neighbours exclude its own template group (`exclude`), so the
weights learn how much a *new* text's neighbours are worth, not a template sibling's.
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

__all__ = [
    "CLASSES",
    "NEIGHBOURS",
    "Featurizer",
    "LinearModel",
    "TextEvidence",
    "read_exemplars",
]

CLASSES = (BENIGN, *CONTENT_CATEGORIES)
F32 = NDArray[np.float32]
F16 = NDArray[np.float16]
NEIGHBOURS = 5  # nearest training prompts per class whose similarities are averaged


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
        neighbour_embeddings: F16,
        neighbour_labels: NDArray[np.int64],
    ) -> None:
        self.encoder = encoder
        self.normalizer = normalizer
        self.lexicon = lexicon
        self._exemplars = exemplar_embeddings  # (E, 384)
        # (C, E) mask: which exemplars belong to each class.
        self._class_mask = exemplar_labels[None, :] == np.arange(len(CLASSES))[:, None]
        # Compared in float32: float16 is only how they are stored.
        self._neighbours = neighbour_embeddings.astype(np.float32)  # (M, 384)
        self._neighbour_columns = [
            np.flatnonzero(neighbour_labels == c) for c in range(len(CLASSES))
        ]

    @classmethod
    def of_model(
        cls, model: LinearModel, encoder: SentenceEncoder, normalizer: Normalizer, lexicon: Lexicon
    ) -> Featurizer:
        """The featurizer a trained model reads: its exemplars and training prompts."""
        return cls(
            encoder,
            normalizer,
            lexicon,
            model.exemplar_embeddings,
            model.exemplar_labels,
            model.neighbour_embeddings,
            model.neighbour_labels,
        )

    @property
    def names(self) -> list[str]:
        return [
            *(f"embedding:{i}" for i in range(self.encoder.dim)),
            *(f"exemplar:{c}" for c in CLASSES),
            *(f"neighbours:{c}:{kind}" for c in CLASSES for kind in ("mean", "closest")),
            *LEXICON_FEATURES,
        ]

    def evidence(self, text: str | NormalizedText) -> TextEvidence:
        normalized = self.normalizer.normalize(text) if isinstance(text, str) else text
        return TextEvidence(
            normalized,
            tuple(self.lexicon.hits(normalized)),
            self.lexicon.mentions_minor(normalized),
        )

    def features(
        self, evidence: Sequence[TextEvidence], exclude: NDArray[np.bool_] | None = None
    ) -> F32:
        """(N, F) float32 features for `evidence`, in order. `exclude` (N, M), in training
        only: the neighbours each text may not count (its own template group)."""
        embeddings = self.encoder.encode([e.text.clean for e in evidence])  # (N, 384)
        return self.features_of_embeddings(embeddings, evidence, exclude)

    def features_of_embeddings(
        self,
        embeddings: F32,
        evidence: Sequence[TextEvidence],
        exclude: NDArray[np.bool_] | None = None,
    ) -> F32:
        """`features`, for texts already embedded (N, 384) (training embeds them once for
        both the neighbours and the features)."""
        similarity = embeddings @ self._exemplars.T  # (N, E)
        # Highest similarity within each class: (N, 1, E) masked by (1, C, E) -> (N, C).
        per_class = np.where(self._class_mask[None], similarity[:, None, :], -1.0).max(axis=2)
        lexical = np.stack(
            [Lexicon.features(e.lexicon_hits, e.mentions_minor) for e in evidence]
        ).reshape(len(evidence), len(LEXICON_FEATURES))
        neighbours = self._neighbour_similarity(embeddings, exclude)
        return np.concatenate(
            [embeddings, per_class.astype(np.float32), neighbours, lexical], axis=1
        )

    def _neighbour_similarity(self, embeddings: F32, exclude: NDArray[np.bool_] | None) -> F32:
        """(N, 2C): per class, the mean cosine of the NEIGHBOURS closest training prompts
        and the closest one's."""
        similarity = embeddings @ self._neighbours.T  # (N, M)
        if exclude is not None:
            similarity[exclude] = -1.0
        columns = []
        for members in self._neighbour_columns:
            of_class = similarity[:, members]  # (N, M_c)
            k = min(NEIGHBOURS, of_class.shape[1])
            closest = np.partition(of_class, of_class.shape[1] - k, axis=1)[:, -k:]  # (N, k)
            columns += [closest.mean(axis=1), closest.max(axis=1)]
        return np.stack(columns, axis=1).astype(np.float32)


@dataclass(frozen=True)
class LinearModel:
    weights: F32  # (F, C)
    bias: F32  # (C,)
    mean: F32  # (F,) feature means over the training set
    scale: F32  # (F,) feature standard deviations (floored), same
    exemplar_embeddings: F32  # (E, 384)
    exemplar_labels: NDArray[np.int64]  # (E,)
    neighbour_embeddings: F16  # (M, 384), the training prompts
    neighbour_labels: NDArray[np.int64]  # (M,)
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
            neighbour_embeddings=self.neighbour_embeddings,
            neighbour_labels=self.neighbour_labels,
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
                    neighbour_embeddings=f["neighbour_embeddings"].astype(np.float16),
                    neighbour_labels=f["neighbour_labels"].astype(np.int64),
                    data_digest=str(f["data_digest"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the safety classifier {path}: {exc} "
                "(retrain with `python -m reelforge.safety.train`)"
            ) from exc
