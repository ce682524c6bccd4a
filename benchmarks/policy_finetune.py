"""Tuning the sentence encoder for the content policy (issue 21), measured: an adapter is
tuned now (`reelforge.safety.tune`), and the classifier is refitted over the frozen MiniLM
and over the tuned one, side by side.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/policy_finetune.py --eval
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/policy_finetune.py --rank 0 --eval

`--rank 0` tunes the whole matrices (21 MB, more than the weights budget takes). The
classifier is fitted exactly as `reelforge.safety.train` fits it, its benign prior
calibrated on the held-out near-boundary prompts as always. Reported for both: recall per
category on the held-out split at that calibration; which of the project's own suite
prompts (569) the policy refuses; and with `--eval` the evaluation set's measures
(`PolicyEngine.check_request` on every prompt, scored by `reelforge.safety.evalset.score`
as `policy_eval.py` does). About 6 minutes on 2 cores, 3 of them tuning.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np

from policy_eval import predicted_label
from reelforge.eval.suite import (
    default_everyday_path,
    default_suite_path,
    load_everyday_suite,
    load_suite,
)
from reelforge.recaption.embedding import SentenceEncoder
from reelforge.safety import PolicyEngine
from reelforge.safety.classifier import CLASSES, Featurizer, LinearModel
from reelforge.safety.config import PolicyConfig
from reelforge.safety.dataset import load_prompts
from reelforge.safety.evalset import load_eval_set, score
from reelforge.safety.train import classifier_refuses, train
from reelforge.safety.tune import TuneConfig, save_adapter, tune


def held_out(model: LinearModel, featurizer: Featurizer) -> dict[str, float]:
    """Recall per harmful category and the benign refusal rates on the held-out split,
    at the calibrated prior and the shipped thresholds."""
    prompts = [p for p in load_prompts() if p.held_out]
    evidence = [featurizer.evidence(p.text) for p in prompts]
    probabilities = model.probabilities(featurizer.features(evidence)).astype(np.float64)
    refused = classifier_refuses(probabilities, np.array([e.mentions_minor for e in evidence]))
    labels = np.array([p.label for p in prompts])
    boundary = np.array([p.boundary for p in prompts])
    recall = {c: round(float(refused[labels == c].mean()), 3) for c in CLASSES[1:]}
    return {
        **recall,
        "recall_min": min(recall.values()),
        "boundary_refused": round(float(refused[(labels == "benign") & boundary].mean()), 3),
        "benign_refused": round(float(refused[labels == "benign"].mean()), 3),
    }


@contextlib.contextmanager
def _policy(
    encoder: SentenceEncoder, model: LinearModel, prior_shift: float = 0.0
) -> Iterator[PolicyEngine]:
    """The policy engine over this encoder and classifier, with the benign prior moved by
    `prior_shift` (log-odds) from its calibrated value."""
    bias = model.bias.copy()
    bias[CLASSES.index("benign")] += prior_shift
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifier.npz"
        dataclasses.replace(model, bias=bias).save(path)
        # The policy engine takes its encoder from the shared loader; hand it this one.
        with mock.patch("reelforge.safety.policy.policy_encoder", lambda *_: encoder):
            engine = PolicyEngine(PolicyConfig(classifier_path=path))
            engine.warm_up()
        yield engine


def on_eval_set(
    encoder: SentenceEncoder, model: LinearModel, prior_shift: float = 0.0
) -> dict[str, object]:
    prompts = load_eval_set()
    with _policy(encoder, model, prior_shift) as engine:
        measures = score(prompts, [predicted_label(engine, p.text) for p in prompts])
    return {
        "recall": {c: round(m["recall"], 3) for c, m in measures["per_category"].items()},
        "recall_min": round(measures["recall_min"], 3),
        "over_refusal_near_miss": round(measures["over_refusal_near_miss"], 3),
        "over_refusal_benign": round(measures["over_refusal_benign"], 3),
        "refused_by_kind": {k: round(m["refused"], 3) for k, m in measures["by_kind"].items()},
        "named_category_accuracy": round(measures["named_category_accuracy"], 3),
    }


def suites_refused(engine: PolicyEngine) -> list[str]:
    """Ids of the project's own suite prompts (the 269 core and 300 everyday, with their
    lines of speech) the policy refuses; `tests/safety/test_suite_prompts.py` allows none."""
    refused = []
    for suite in (load_suite(default_suite_path()), load_everyday_suite(default_everyday_path())):
        for item in suite:
            if not engine.check_request(
                item.prompt, requester="eval", speech=item.dialogue
            ).allowed:
                refused.append(item.id)
    return refused


def _trade_off(measures: dict[str, object]) -> dict[str, object]:
    keep = ("recall_min", "over_refusal_near_miss", "over_refusal_benign")
    return {k: measures[k] for k in keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rank", type=int, default=16, help="0: tune whole matrices")
    parser.add_argument("--epochs", type=int, default=TuneConfig.epochs)
    parser.add_argument("--anchor", type=float, default=TuneConfig.anchor)
    parser.add_argument("--eval", action="store_true", help="also run the evaluation set")
    parser.add_argument("--out", type=Path, help="write the measures here as JSON")
    parser.add_argument(
        "--prior-shifts",
        type=float,
        nargs="*",
        default=[],
        help="with --eval, also measure the evaluation set with the benign prior moved by "
        "these log-odds (the trade-off between recall and over-refusal; never used to choose)",
    )
    args = parser.parse_args()

    config = TuneConfig(rank=args.rank or None, epochs=args.epochs, anchor=args.anchor)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter.safetensors"
        save_adapter(tune(config), adapter)
        size = adapter.stat().st_size
        runs: dict[str, dict[str, object]] = {}
        encoders = (
            ("frozen", SentenceEncoder.load()),
            ("tuned", SentenceEncoder.load(adapter=adapter)),
        )
        for name, encoder in encoders:
            model, featurizer = train(encoder=encoder)
            runs[name] = {"held_out": held_out(model, featurizer)}
            with _policy(encoder, model) as engine:
                runs[name]["suites_refused"] = suites_refused(engine)
            if args.eval:
                runs[name]["eval_set"] = on_eval_set(encoder, model)
                runs[name]["eval_set_prior_shifted"] = {
                    f"{shift:+.2f}": _trade_off(on_eval_set(encoder, model, shift))
                    for shift in args.prior_shifts
                }
            print(name, json.dumps(runs[name]), flush=True)
    result = {"tune": dataclasses.asdict(config), "adapter_bytes": size, "runs": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
