"""The labelled prompt set and the shipped classifier: both reproduce from their commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from reelforge.safety import CONTENT_CATEGORIES
from reelforge.safety.classifier import CLASSES, Featurizer, LinearModel
from reelforge.safety.dataset import build_prompts, load_prompts
from reelforge.safety.decision import SELF_HARM
from reelforge.safety.resources import CLASSIFIER_PATH, TextTools, policy_encoder
from reelforge.safety.train import data_digest


def test_labelled_set_has_hundreds_per_category_and_a_boundary_set() -> None:
    prompts = load_prompts()
    counts = Counter(p.label for p in prompts)
    for category in CONTENT_CATEGORIES:
        assert counts[category] >= 200, (category, counts[category])
    boundary = [p for p in prompts if p.boundary]
    assert len(boundary) >= 300 and all(p.label == "benign" for p in boundary)
    for label in CLASSES:
        held = [p for p in prompts if p.label == label and p.held_out]
        assert len(held) >= 40, (label, len(held))
    assert sum(p.held_out for p in boundary) >= 60
    assert len({p.text.lower() for p in prompts}) == len(prompts)  # no duplicates


def test_split_is_by_group() -> None:
    split_of: dict[str, set[bool]] = {}
    for prompt in load_prompts():
        split_of.setdefault(prompt.group, set()).add(prompt.held_out)
    assert all(len(splits) == 1 for splits in split_of.values())


def test_shipped_prompts_regenerate_from_templates() -> None:
    assert build_prompts() == load_prompts()


def test_shipped_classifier_was_trained_on_the_shipped_data() -> None:
    assert LinearModel.load(CLASSIFIER_PATH).data_digest == data_digest()


def test_training_command_reproduces_the_shipped_weights(tmp_path: Path) -> None:
    """`python -m reelforge.safety.train` is deterministic: the same weights up to float
    rounding (BLAS may sum in another order on another machine). One BLAS thread is only
    faster on a small shared machine; it does not change the result beyond rounding."""
    out = tmp_path / "classifier.npz"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "reelforge.safety.train", "--out", str(out), "--skip-eval"],
        check=True,
        env=env,
        capture_output=True,
    )
    retrained, shipped = LinearModel.load(out), LinearModel.load(CLASSIFIER_PATH)
    assert retrained.data_digest == shipped.data_digest
    scale = float(np.abs(shipped.weights).max())
    assert np.allclose(retrained.weights, shipped.weights, atol=2e-3 * scale)
    assert np.allclose(retrained.bias, shipped.bias, atol=2e-3 * scale)
    assert np.allclose(retrained.mean, shipped.mean, atol=1e-4)
    assert np.allclose(retrained.scale, shipped.scale, rtol=1e-3, atol=1e-5)
    assert np.allclose(retrained.exemplar_embeddings, shipped.exemplar_embeddings, atol=1e-4)
    assert np.array_equal(retrained.neighbour_labels, shipped.neighbour_labels)
    assert np.allclose(
        retrained.neighbour_embeddings.astype(np.float32),
        shipped.neighbour_embeddings.astype(np.float32),
        atol=2e-3,  # float16: about three significant digits
    )


def test_neighbours_are_the_training_split_and_exclude_hides_them(tools: TextTools) -> None:
    """The shipped neighbours are the training prompts, in order: a training prompt's
    closest neighbour of its own class is itself (cosine 1 up to float16), and once its
    template group is excluded, as training does, it is not."""
    model = LinearModel.load(CLASSIFIER_PATH)
    training = [p for p in load_prompts() if not p.held_out]
    assert model.neighbour_embeddings.shape == (len(training), 384)
    assert [CLASSES[i] for i in model.neighbour_labels] == [p.label for p in training]
    featurizer = Featurizer.of_model(model, policy_encoder(), tools.normalizer, tools.lexicon)
    prompt = next(p for p in training if p.label == SELF_HARM and "/t" in p.group)
    column = featurizer.names.index(f"neighbours:{SELF_HARM}:closest")
    evidence = [featurizer.evidence(prompt.text)]
    assert featurizer.features(evidence)[0, column] > 0.998
    own_group = np.array([[p.group == prompt.group for p in training]])  # (1, M)
    assert featurizer.features(evidence, own_group)[0, column] < 0.99
