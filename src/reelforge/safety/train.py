"""Train the content classifier on the labelled prompt set and write its weights.

    .venv/bin/python -m reelforge.safety.train            # rewrites data/classifier.npz
    .venv/bin/python -m reelforge.safety.train --out /tmp/c.npz --skip-eval

Deterministic: fixed data order, zero initial weights, full-batch L-BFGS (scipy) on a
convex objective, so a rerun reproduces the shipped file up to floating-point rounding.
The defaults below are the ones that produced the shipped weights.

The training split is embedded once: those embeddings are both the features and the
neighbours that ship with the weights (`classifier.py`). A training prompt's neighbour
features leave out its own template group, as a new text has no template sibling among
the neighbours; held-out prompts are never neighbours, so the calibration below and the
held-out measures see them as new text too.

Class-balanced training gives benign one seventh of the weight, as if six of seven prompts
were harmful, and the classifier then refuses too much near the boundary. After fitting,
the benign class's bias is raised (its prior, in log-odds) by the smallest step that brings
the share of held-out near-boundary benign prompts the classifier would refuse, at the
shipped thresholds, down to `boundary_over_refusal`. Only that one number is chosen on the
held-out split; the weights never see it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from reelforge.recaption.embedding import SentenceEncoder
from reelforge.safety.classifier import (
    CLASSES,
    F32,
    Featurizer,
    LinearModel,
    embed_exemplars,
    read_exemplars,
)
from reelforge.safety.config import DEFAULT_CATEGORY_THRESHOLDS
from reelforge.safety.dataset import PROMPTS_PATH, LabelledPrompt, load_prompts
from reelforge.safety.decision import BENIGN, CONTENT_CATEGORIES, SEXUAL, SEXUAL_MINORS
from reelforge.safety.resources import (
    ADAPTER_PATH,
    CLASSIFIER_PATH,
    EXEMPLARS_PATH,
    LEXICON_PATH,
    file_digest,
    policy_encoder,
    text_tools,
)

__all__ = ["TrainConfig", "data_digest", "main", "train"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class TrainConfig:
    # Weight decay on standardised features, per training example. 3e-3 until the
    # hand-written rows of issue 21; with them, 3e-3 refused 4 of the 300 everyday-suite
    # prompts and 3e-2 one (chosen on the suites, never on the evaluation set).
    l2: float = 3e-2
    max_iterations: int = 500
    min_scale: float = 1e-3  # floor for feature standard deviations
    # Most held-out near-boundary benign prompts the classifier alone may refuse (the
    # lexicon's strong terms block regardless), and the step of the benign-prior search.
    boundary_over_refusal: float = 0.02
    benign_offset_step: float = 0.05
    max_benign_offset: float = 5.0


def data_digest() -> str:
    """What the weights depend on: prompts, exemplars, lexicon and the encoder's adapter."""
    return file_digest(PROMPTS_PATH, EXEMPLARS_PATH, LEXICON_PATH, ADAPTER_PATH)


def _fit(x: F64, y: NDArray[np.int64], config: TrainConfig) -> tuple[F64, F64]:
    """Class-balanced multinomial logistic regression; returns weights (F, C), bias (C,)."""
    n, f = x.shape
    c = len(CLASSES)
    counts = np.bincount(y, minlength=c).astype(np.float64)
    sample_weight = (n / (c * counts))[y] / n  # (N,), sums to 1 over a balanced set
    onehot = np.eye(c)[y]  # (N, C)

    def objective(theta: F64) -> tuple[float, F64]:
        w, b = theta[: f * c].reshape(f, c), theta[f * c :]
        logits = x @ w + b  # (N, C)
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_norm
        loss = -(sample_weight * (onehot * log_p).sum(axis=1)).sum()
        loss += 0.5 * config.l2 * float((w * w).sum())
        residual = (np.exp(log_p) - onehot) * sample_weight[:, None]  # (N, C)
        grad_w = x.T @ residual + config.l2 * w
        grad_b = residual.sum(axis=0)
        return float(loss), np.concatenate([grad_w.ravel(), grad_b])

    result = minimize(
        objective,
        np.zeros(f * c + c),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": config.max_iterations},
    )
    theta = result.x
    return theta[: f * c].reshape(f, c), theta[f * c :]


def featurize(prompts: list[LabelledPrompt], featurizer: Featurizer) -> F32:
    return featurizer.features([featurizer.evidence(p.text) for p in prompts])


def classifier_refuses(
    probabilities: F64, minor: NDArray[np.bool_], harmful_threshold: float = 0.5
) -> NDArray[np.bool_]:
    """(N,) whether the classifier part of the policy refuses each row of (N, C)
    probabilities at the default thresholds, as `PolicyEngine` decides it (sexual content
    next to a minor counts towards sexual/minors)."""
    harmful = probabilities[:, 1:].copy()  # (N, 6), CONTENT_CATEGORIES order
    s, m = CONTENT_CATEGORIES.index(SEXUAL), CONTENT_CATEGORIES.index(SEXUAL_MINORS)
    harmful[:, m] += np.where(minor, harmful[:, s], 0.0)
    thresholds = np.array([DEFAULT_CATEGORY_THRESHOLDS[c] for c in CONTENT_CATEGORIES])
    over = np.asarray((harmful >= thresholds).any(axis=1), dtype=np.bool_)
    return over | (1.0 - probabilities[:, 0] >= harmful_threshold)


def benign_raised(logits: F64, offset: float) -> F64:
    """(N, C) probabilities of (N, C) logits with the benign logit raised by `offset`."""
    shifted = logits.copy()
    shifted[:, CLASSES.index(BENIGN)] += offset
    shifted -= shifted.max(axis=1, keepdims=True)
    odds = np.exp(shifted)
    return np.asarray(odds / odds.sum(axis=1, keepdims=True), dtype=np.float64)


def benign_offset(
    logits: F64, minor: NDArray[np.bool_], config: TrainConfig
) -> tuple[float, float]:
    """The smallest raise of the benign logit (a multiple of the step) at which at most
    `boundary_over_refusal` of these held-out near-boundary prompts' (N, C) logits are
    refused; returns it and the share refused."""
    offset = 0.0
    while True:
        refused = float(classifier_refuses(benign_raised(logits, offset), minor).mean())
        if refused <= config.boundary_over_refusal or offset >= config.max_benign_offset:
            return offset, refused
        offset = round(offset + config.benign_offset_step, 6)


def train(
    config: TrainConfig = TrainConfig(), encoder: SentenceEncoder | None = None
) -> tuple[LinearModel, Featurizer]:
    """Fit the classifier over `encoder`'s embeddings (default: the policy's, MiniLM with
    the tuned adapter)."""
    # 1. Text tools, encoder, exemplars.
    tools = text_tools()
    encoder = encoder or policy_encoder()
    exemplar_embeddings, exemplar_labels = embed_exemplars(
        read_exemplars(EXEMPLARS_PATH), encoder, tools.normalizer
    )
    # 2. The training split, embedded once: its embeddings are the neighbours too.
    train_prompts = [p for p in load_prompts() if not p.held_out]
    y = np.array([CLASSES.index(p.label) for p in train_prompts], dtype=np.int64)
    normalized = [tools.normalizer.normalize(p.text) for p in train_prompts]
    embeddings = encoder.encode([n.clean for n in normalized])  # (N, 384)
    neighbours = embeddings.astype(np.float16)  # stored, and so used, in float16
    featurizer = Featurizer(
        encoder,
        tools.normalizer,
        tools.lexicon,
        exemplar_embeddings,
        exemplar_labels,
        neighbours,
        y,
    )
    # A prompt's own template group is not its neighbour: the weights must learn what
    # the neighbours of a new text are worth.
    groups = np.array([p.group for p in train_prompts])
    own_group = groups[:, None] == groups[None, :]  # (N, N)
    evidence = [featurizer.evidence(n) for n in normalized]
    x = featurizer.features_of_embeddings(embeddings, evidence, own_group).astype(np.float64)
    # 3. Standardise, then fit.
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), config.min_scale)
    weights, bias = _fit((x - mean) / scale, y, config)
    # 4. The benign prior, from the held-out near-boundary prompts.
    boundary = [p for p in load_prompts() if p.held_out and p.boundary]
    boundary_evidence = [featurizer.evidence(p.text) for p in boundary]
    boundary_x = featurizer.features(boundary_evidence).astype(np.float64)
    minor = np.array([e.mentions_minor for e in boundary_evidence])
    offset, refused = benign_offset(((boundary_x - mean) / scale) @ weights + bias, minor, config)
    bias[CLASSES.index(BENIGN)] += offset
    print(
        f"benign prior raised by {offset:.2f} (log-odds): the classifier refuses "
        f"{refused:.3f} of {len(boundary)} held-out near-boundary prompts"
    )
    model = LinearModel(
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        exemplar_embeddings=exemplar_embeddings,
        exemplar_labels=exemplar_labels,
        neighbour_embeddings=neighbours,
        neighbour_labels=y,
        data_digest=data_digest(),
    )
    return model, featurizer


def held_out_accuracy(model: LinearModel, featurizer: Featurizer) -> float:
    prompts = [p for p in load_prompts() if p.held_out]
    predicted = model.probabilities(featurize(prompts, featurizer)).argmax(axis=1)
    truth = np.array([CLASSES.index(p.label) for p in prompts])
    return float((predicted == truth).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the safety content classifier.")
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH)
    parser.add_argument("--skip-eval", action="store_true", help="do not report held-out accuracy")
    args = parser.parse_args()
    started = time.perf_counter()
    model, featurizer = train()
    model.save(args.out)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")
    if not args.skip_eval:
        print(f"held-out accuracy {held_out_accuracy(model, featurizer):.3f}")


if __name__ == "__main__":
    main()
