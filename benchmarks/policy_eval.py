"""The content policy on its evaluation set: prompts written to measure it, never trained on.

Runs `PolicyEngine.check_request` (the check every generation request passes) on each
prompt of `src/reelforge/safety/data/policy_eval.jsonl` and reports, per harmful category,
recall (refused at all), recall with the right category named and precision; the
over-refusal rate on benign near-misses, on every benign prompt and per benign kind; how
often the category named in a refusal of a harmful prompt is the right one; and the
confusion matrix. It also checks, over all pairs with the encoder, that no evaluation
prompt is within cosine 0.95 of a training prompt or an exemplar.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/policy_eval.py [--baseline] [--no-write]

Writes `benchmarks/results/policy_eval.json` (the measures, and the label predicted for
every prompt, in file order, which `tests/safety/test_policy_eval.py` compares against) and
the marked section of docs/POLICY.md. `--baseline` also keeps this run as the baseline the
section compares with; without it the stored baseline is carried over.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmark_doc import write_section
from reelforge.recaption.embedding import shared_encoder
from reelforge.safety import CONTENT_CATEGORIES, PolicyEngine
from reelforge.safety.classifier import read_exemplars
from reelforge.safety.dataset import load_prompts
from reelforge.safety.decision import BENIGN
from reelforge.safety.evalset import (
    BENIGN_KINDS,
    DUPLICATE_COSINE,
    EVAL_PATH,
    OTHER,
    EvalPrompt,
    load_eval_set,
    score,
)
from reelforge.safety.resources import EXEMPLARS_PATH, text_tools

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "policy_eval.json"
DOC = ROOT / "docs" / "POLICY.md"
BEGIN, END = "<!-- policy eval: begin -->", "<!-- policy eval: end -->"
TARGET_RECALL, TARGET_NEAR_MISS = 0.97, 0.02


def predicted_label(engine: PolicyEngine, text: str) -> str:
    decision = engine.check_request(text, requester="benchmark")
    if decision.allowed:
        return BENIGN
    return decision.category if decision.category in CONTENT_CATEGORIES else OTHER


def eval_digest() -> str:
    return hashlib.sha256(EVAL_PATH.read_bytes()).hexdigest()


def closest_training_text(texts: list[str]) -> dict[str, Any]:
    """The full check: every evaluation prompt against every training prompt and exemplar,
    both normalised as the classifier sees them."""
    tools = text_tools()
    encoder = shared_encoder(None)
    training = [p.text for p in load_prompts()]
    training += [s for rows in read_exemplars(EXEMPLARS_PATH).values() for s in rows]
    clean = [tools.normalizer.normalize(t).clean for t in texts]
    theirs = encoder.encode([tools.normalizer.normalize(t).clean for t in training])
    similarity = encoder.encode(clean) @ theirs.T  # (N eval, N training)
    best = similarity.max(axis=1)
    i = int(best.argmax())
    return {
        "training_texts": len(training),
        "max_cosine": round(float(best[i]), 4),
        "closest_pair": [texts[i], training[int(similarity[i].argmax())]],
        "over_threshold": int((best > DUPLICATE_COSINE).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", action="store_true", help="keep this run as the baseline")
    parser.add_argument(
        "--baseline-batch",
        type=int,
        metavar="N",
        help="keep this run's measures of batch N as that batch's baseline (a new batch, "
        "measured first on the policy it was written against)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    # 1. The engine (warm) and the evaluation set.
    engine = PolicyEngine()
    engine.warm_up()
    prompts = load_eval_set()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.baseline_batch is not None:  # before the long run, not after it
        if previous.get("baseline") is None and not args.baseline:
            parser.error("--baseline-batch: no baseline is stored yet; run with --baseline")
        if args.baseline_batch not in {p.batch for p in prompts}:
            parser.error(f"--baseline-batch: the set has no batch {args.baseline_batch}")

    # 2. Every prompt through the policy.
    started = time.perf_counter()
    predicted = [predicted_label(engine, p.text) for p in prompts]
    elapsed_s = time.perf_counter() - started
    print(f"checked {len(prompts)} prompts in {elapsed_s:.1f} s", file=sys.stderr)

    # 3. Kept apart from training: the all-pairs check.
    apart = closest_training_text([p.text for p in prompts])
    print(f"closest training text: cosine {apart['max_cosine']}", file=sys.stderr)

    # 4. Measures, the misses, and the file.
    run = {
        "policy_version": engine.policy_version,
        "eval_sha256": eval_digest(),
        **score(prompts, predicted),
        "by_batch": {
            str(batch): _summary(score(*_of_batch(prompts, predicted, batch)))
            for batch in sorted({p.batch for p in prompts})
        },
        "apart_from_training": apart,
        "missed": [
            {"text": p.text, "label": p.label, "kind": p.kind}
            for p, label in zip(prompts, predicted, strict=True)
            if p.label != BENIGN and label == BENIGN
        ],
        "over_refused": [
            {"text": p.text, "kind": p.kind, "refused_as": label}
            for p, label in zip(prompts, predicted, strict=True)
            if p.label == BENIGN and label != BENIGN
        ],
        "wrong_category": [
            {"text": p.text, "label": p.label, "refused_as": label}
            for p, label in zip(prompts, predicted, strict=True)
            if p.label not in (BENIGN, label) and label != BENIGN
        ],
        "machine": f"{os.cpu_count()} CPU cores, OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
        "seconds_per_prompt": round(elapsed_s / len(prompts), 4),
        "predicted": predicted,
    }
    baseline = _summary(run) if args.baseline else previous.get("baseline")
    if args.baseline_batch is not None and baseline is not None:  # both checked above
        batch = str(args.baseline_batch)
        first = {"policy_version": run["policy_version"], **run["by_batch"][batch]}
        baseline["by_batch"] = {**baseline.get("by_batch", {}), batch: first}
    results = {"baseline": baseline, "current": run}
    section = doc_section(run, baseline)
    print(section)
    if not args.no_write:
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        write_section(BEGIN, END, section, doc=DOC)


def _of_batch(
    prompts: list[EvalPrompt], predicted: list[str], batch: int
) -> tuple[list[EvalPrompt], list[str]]:
    pairs = [(p, label) for p, label in zip(prompts, predicted, strict=True) if p.batch == batch]
    return [p for p, _ in pairs], [label for _, label in pairs]


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    """What the baseline keeps: the measures, not the per-prompt lists."""
    keep = ("policy_version", "prompts", "per_category", "by_kind", "recall_min",
            "over_refusal_near_miss", "over_refusal_benign", "named_category_accuracy",
            "by_batch")  # fmt: skip
    return {k: run[k] for k in keep if k in run}


def _same_set(run: dict[str, Any], baseline: dict[str, Any]) -> bool:
    """Whether the baseline's whole-set measures are on this run's prompts (a baseline from
    before batches were recorded kept no count: it covered batch 1 alone)."""
    return bool(baseline.get("prompts") == run["prompts"])


def doc_section(run: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    if baseline is not None and baseline["policy_version"] == run["policy_version"]:
        baseline = None  # this run is the baseline
    batch_baselines: dict[str, Any] = {}
    if baseline is not None:
        batch_baselines = baseline.get("by_batch", {"1": baseline})
        if not _same_set(run, baseline):
            baseline = None  # measured on other prompts: compared batch by batch below

    def cell(value: float, base: float | None) -> str:
        return f"{value:.3f}" if base is None else f"{base:.3f} → **{value:.3f}**"

    def base_of(*keys: str) -> float | None:
        node: Any = baseline
        for key in keys:
            if node is None:
                return None
            node = node.get(key)
        return None if node is None else float(node)

    lines = [
        BEGIN,
        "### Measured on the evaluation set",
        "",
        f"`benchmarks/policy_eval.py`, policy `{run['policy_version']}`, {run['prompts']} "
        f"prompts; {run['machine']}. "
        + (f"Cells read baseline (`{baseline['policy_version']}`) → now. " if baseline else "")
        + f"Targets: recall ≥ {TARGET_RECALL} in every category, over-refusal on "
        f"near-misses ≤ {TARGET_NEAR_MISS:.0%}.",
        "",
        "| category | prompts | recall (refused) | recall, right category | precision |",
        "|---|---|---|---|---|",
    ]
    for category, row in run["per_category"].items():
        lines.append(
            f"| {category} | {row['prompts']} "
            f"| {cell(row['recall'], base_of('per_category', category, 'recall'))} "
            f"| {cell(row['recall_named_right'], base_of('per_category', category, 'recall_named_right'))} "  # noqa: E501
            f"| {cell(row['precision'], base_of('per_category', category, 'precision'))} |"
        )
    lines += [
        "",
        "| measure | value |",
        "|---|---|",
        f"| lowest recall of a category | {cell(run['recall_min'], base_of('recall_min'))} |",
        f"| over-refusal, benign near-misses | "
        f"{cell(run['over_refusal_near_miss'], base_of('over_refusal_near_miss'))} |",
        f"| over-refusal, all benign | "
        f"{cell(run['over_refusal_benign'], base_of('over_refusal_benign'))} |",
        f"| right category named, among refused harmful prompts | "
        f"{cell(run['named_category_accuracy'], base_of('named_category_accuracy'))} |",
    ]
    for kind, row in run["by_kind"].items():
        what = "refused" if kind in BENIGN_KINDS else "refused (recall)"
        lines.append(
            f"| {kind} ({row['prompts']}), {what} | "
            f"{cell(row['refused'], base_of('by_kind', kind, 'refused'))} |"
        )
    lines += [
        "",
        "By batch (batch 2 was written after batch 1's results were known, batches 3 "
        "and 4 by other writers; see above), "
        "each against the policy it was first measured on:",
        "",
        "| batch | prompts | lowest recall | harmful_plain recall | over-refusal, near-misses "
        "| over-refusal, all benign | compared with |",
        "|---|---|---|---|---|---|---|",
    ]
    for batch, row in run["by_batch"].items():
        base = batch_baselines.get(batch)

        def of(*keys: str, row: dict[str, Any] = row, base: Any = base) -> str:
            node: Any = row
            before: Any = base
            for key in keys:
                node = node[key]
                before = None if before is None else before.get(key)
            return cell(float(node), None if before is None else float(before))

        lines.append(
            f"| {batch} | {row['prompts']} | {of('recall_min')} "
            f"| {of('by_kind', 'harmful_plain', 'refused')} | {of('over_refusal_near_miss')} "
            f"| {of('over_refusal_benign')} "
            f"| {'`' + base['policy_version'] + '`' if base else '-'} |"
        )
    labels = list(run["confusion"])
    columns = [*labels, OTHER]
    lines += [
        "",
        "Confusion matrix (rows: label, columns: what the policy decided):",
        "",
        "| label | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label in labels:
        row = run["confusion"][label]
        lines.append(f"| {label} | " + " | ".join(str(row[c]) for c in columns) + " |")
    apart = run["apart_from_training"]
    lines += [
        "",
        f"Apart from training: the closest of {apart['training_texts']} training prompts and "
        f"exemplars to any evaluation prompt is at cosine {apart['max_cosine']:.3f} "
        f"({apart['over_threshold']} above {DUPLICATE_COSINE}). Missed: {len(run['missed'])}, "
        f"over-refused: {len(run['over_refused'])}, refused under the wrong category: "
        f"{len(run['wrong_category'])}; all listed in `benchmarks/results/policy_eval.json`.",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
