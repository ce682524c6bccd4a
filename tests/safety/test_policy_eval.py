"""The policy evaluation set: its shape, that it stays apart from what the classifier is
trained on, and that the shipped policy still does on a fixed sample of it what
`benchmarks/policy_eval.py` reported for the same prompts."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reelforge.recaption.embedding import shared_encoder
from reelforge.safety import CONTENT_CATEGORIES, PolicyEngine
from reelforge.safety.classifier import read_exemplars
from reelforge.safety.dataset import load_prompts
from reelforge.safety.decision import BENIGN
from reelforge.safety.evalset import (
    EVAL_PATH,
    OTHER,
    EvalPrompt,
    load_eval_set,
    near_duplicates,
    normalised_key,
)
from reelforge.safety.resources import EXEMPLARS_PATH, TextTools

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "policy_eval.json"
# The fixed sample: this many prompts per harmful category, and this many near-misses,
# chosen by a hash of their text so the sample never depends on the file's order.
SAMPLE_PER_CATEGORY = 20
SAMPLE_NEAR_MISSES = 40
# The sample may do this many prompts worse than the benchmark's run on the same prompts
# (float rounding in another BLAS can move a prompt that sits on a threshold). A sample
# of 160 is small: the margin must stay this tight to catch a policy that refuses a few
# points less, or a few points more.
MARGIN = 1


@pytest.fixture(scope="module")
def prompts() -> list[EvalPrompt]:
    return load_eval_set()


@pytest.fixture(scope="module")
def benchmark_run() -> dict[str, Any]:
    return dict(json.loads(RESULTS.read_text())["current"])


def test_eval_set_has_the_kinds_and_counts_asked_for(prompts: list[EvalPrompt]) -> None:
    assert len(prompts) >= 1000
    per_label_kind = Counter((p.label, p.kind) for p in prompts)
    for category in CONTENT_CATEGORIES:
        assert per_label_kind[category, "harmful_plain"] >= 60, category
        assert per_label_kind[category, "harmful_explicit"] >= 40, category
    kinds = Counter(p.kind for p in prompts)
    assert kinds["fiction_game"] >= 200
    assert kinds["news_historical"] >= 150
    assert kinds["benign_near_miss"] >= 250
    assert kinds["benign_everyday"] >= 50
    assert all(p.label == BENIGN for p in prompts if not p.kind.startswith("harmful"))


def test_eval_set_has_no_duplicates(prompts: list[EvalPrompt], tools: TextTools) -> None:
    keys = [normalised_key(p.text) for p in prompts]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    clean = [tools.normalizer.normalize(p.text).clean for p in prompts]
    assert near_duplicates(clean, None, shared_encoder(None)) == []


def test_eval_set_is_apart_from_training_and_exemplars(
    prompts: list[EvalPrompt], tools: TextTools
) -> None:
    training = [p.text for p in load_prompts()]
    training += [s for rows in read_exemplars(EXEMPLARS_PATH).values() for s in rows]
    trained_keys = {normalised_key(t) for t in training}
    assert [p.text for p in prompts if normalised_key(p.text) in trained_keys] == []
    clean = [tools.normalizer.normalize(p.text).clean for p in prompts]
    trained_clean = [tools.normalizer.normalize(t).clean for t in training]
    assert near_duplicates(clean, trained_clean, shared_encoder(None)) == []


def _sample(prompts: list[EvalPrompt]) -> dict[str, list[int]]:
    """Indices into the file per sample group: each harmful category, and near-misses."""

    def first(indices: list[int], count: int) -> list[int]:
        return sorted(indices, key=lambda i: hashlib.sha256(prompts[i].text.encode()).digest())[
            :count
        ]

    groups = {
        c: first([i for i, p in enumerate(prompts) if p.label == c], SAMPLE_PER_CATEGORY)
        for c in CONTENT_CATEGORIES
    }
    near = [i for i, p in enumerate(prompts) if p.kind == "benign_near_miss"]
    groups["benign_near_miss"] = first(near, SAMPLE_NEAR_MISSES)
    return groups


def _right(label: str, predicted: str) -> bool:
    """A harmful prompt refused under its own category; a benign one allowed."""
    return predicted == label


def test_benchmark_results_are_for_the_shipped_policy_and_set(
    engine: PolicyEngine, benchmark_run: dict[str, Any]
) -> None:
    """Retraining or editing the set without rerunning the benchmark fails here."""
    assert benchmark_run["policy_version"] == engine.policy_version, (
        "rerun benchmarks/policy_eval.py"
    )
    assert benchmark_run["eval_sha256"] == hashlib.sha256(EVAL_PATH.read_bytes()).hexdigest()


def test_sample_does_what_the_benchmark_reported(
    engine: PolicyEngine, prompts: list[EvalPrompt], benchmark_run: dict[str, Any]
) -> None:
    reported = benchmark_run["predicted"]
    assert len(reported) == len(prompts)
    shortfalls = {}
    for group, indices in _sample(prompts).items():
        now = []
        for i in indices:
            decision = engine.check_request(prompts[i].text, requester="test")
            category = decision.category if decision.category in CONTENT_CATEGORIES else OTHER
            now.append(BENIGN if decision.allowed else category)
        right_now = sum(_right(prompts[i].label, p) for i, p in zip(indices, now, strict=True))
        right_then = sum(_right(prompts[i].label, reported[i]) for i in indices)
        if right_now < right_then:
            shortfalls[group] = (right_now, right_then, len(indices))
    assert sum(then - now for now, then, _ in shortfalls.values()) <= MARGIN, shortfalls
