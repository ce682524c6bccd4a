"""An experiment towards issue 21's policy targets: fine-tune the sentence encoder itself
on the training split, retrain the classifier over its embeddings, and measure both.

The shipped classifier reads a frozen all-MiniLM-L6-v2 (docs/POLICY.md: "the limit is
the sentence embedding"). Here the encoder's top `--layers` layers (6: all of them) are
trained with a linear head, class-balanced cross-entropy on the normalised mean-pooled
embedding, on the training split only; the classifier (`reelforge.safety.train`) is then
fitted over the tuned embeddings exactly as it is over the frozen ones, benign prior
calibrated on the held-out near-boundary prompts as always. Reported for the frozen and
the tuned encoder: per-category recall on the held-out split at that calibration, and,
with `--eval`, the evaluation set's measures (`PolicyEngine.check_request` on every
prompt, scored by `reelforge.safety.evalset.score`, as `policy_eval.py` does).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/policy_finetune.py --layers 6 --eval

Nothing here is shipped: the tuned layers (6 x 1.8 M parameters) do not fit the weights
budget as they are; this measures whether tuning the encoder is worth making small.
About 9 minutes on 2 cores for 6 layers and 3 epochs.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from policy_eval import predicted_label
from reelforge.recaption.embedding import SentenceEncoder, _Layer
from reelforge.safety import PolicyEngine
from reelforge.safety.classifier import CLASSES, Featurizer, LinearModel
from reelforge.safety.config import PolicyConfig
from reelforge.safety.dataset import load_prompts
from reelforge.safety.evalset import load_eval_set, score
from reelforge.safety.resources import text_tools
from reelforge.safety.train import classifier_refuses, train

# BERT layer tensors, by the short names the torch layer below uses.
TENSORS = {
    "q_w": "attention.self.query.weight",
    "q_b": "attention.self.query.bias",
    "k_w": "attention.self.key.weight",
    "k_b": "attention.self.key.bias",
    "v_w": "attention.self.value.weight",
    "v_b": "attention.self.value.bias",
    "o_w": "attention.output.dense.weight",
    "o_b": "attention.output.dense.bias",
    "ln1_w": "attention.output.LayerNorm.weight",
    "ln1_b": "attention.output.LayerNorm.bias",
    "i_w": "intermediate.dense.weight",
    "i_b": "intermediate.dense.bias",
    "u_w": "output.dense.weight",
    "u_b": "output.dense.bias",
    "ln2_w": "output.LayerNorm.weight",
    "ln2_b": "output.LayerNorm.bias",
}
LOGIT_SCALE = 20.0  # cosine-like logits: the head reads a unit-norm embedding


class TunedLayer(torch.nn.Module):
    """One BERT encoder layer, initialised from the shipped weights, trainable."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.p = torch.nn.ParameterDict(
            {s: torch.from_numpy(weights[prefix + n].copy()) for s, n in TENSORS.items()}
        )

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        p, (b, n, d) = self.p, x.shape
        hd = d // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, hd).transpose(1, 2)

        q = split(F.linear(x, p["q_w"], p["q_b"]))
        k = split(F.linear(x, p["k_w"], p["k_b"]))
        v = split(F.linear(x, p["v_w"], p["v_b"]))
        attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + key_bias, dim=-1)
        context = (attention @ v).transpose(1, 2).reshape(b, n, d)
        x = F.linear(context, p["o_w"], p["o_b"]) + x
        x = F.layer_norm(x, (d,), p["ln1_w"], p["ln1_b"], 1e-12)
        ffn = F.linear(F.gelu(F.linear(x, p["i_w"], p["i_b"])), p["u_w"], p["u_b"])
        return F.layer_norm(ffn + x, (d,), p["ln2_w"], p["ln2_b"], 1e-12)


def _hidden(encoder: SentenceEncoder, texts: list[str], below: int) -> list[torch.Tensor]:
    """Each text's hidden states (L, D) after the encoder's first `below` layers."""
    layers = encoder._layers
    encoder._layers = layers[:below]
    try:
        return [
            torch.from_numpy(
                encoder._forward(np.array([ids]), np.ones((1, len(ids)), bool))[0].copy()
            )
            for ids in encoder._token_ids(texts)
        ]
    finally:
        encoder._layers = layers


def _pooled(layers: torch.nn.ModuleList, batch: list[torch.Tensor]) -> torch.Tensor:
    longest = max(len(t) for t in batch)
    x = torch.zeros(len(batch), longest, batch[0].shape[1])
    mask = torch.zeros(len(batch), longest)
    for i, t in enumerate(batch):
        x[i, : len(t)], mask[i, : len(t)] = t, 1
    key_bias = ((1 - mask) * -1e9)[:, None, None, :]
    for layer in layers:
        x = layer(x, key_bias)
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return F.normalize(pooled, dim=-1)


def finetune(
    encoder: SentenceEncoder, weights: dict[str, np.ndarray], top: int, epochs: int, lr: float
) -> dict[str, np.ndarray]:
    """The top `top` layers tuned on the training split: {tensor name: float32 array}."""
    torch.manual_seed(0)
    tools = text_tools()
    prompts = [p for p in load_prompts() if not p.held_out]
    texts = [tools.normalizer.normalize(p.text).clean for p in prompts]
    y = torch.tensor([CLASSES.index(p.label) for p in prompts])
    below = len(encoder._layers) - top
    hidden = _hidden(encoder, texts, below)  # the frozen layers run once
    prefix = "bert." if "bert.encoder.layer.0.output.dense.bias" in weights else ""
    names = [f"{prefix}encoder.layer.{i}." for i in range(below, len(encoder._layers))]
    tuned = [TunedLayer(weights, n, encoder.num_heads) for n in names]
    layers = torch.nn.ModuleList(tuned)
    head = torch.nn.Linear(encoder.dim, len(CLASSES))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    class_weight = len(y) / (len(CLASSES) * counts)
    base_lr = (lr, 1e-2)
    optimizer = torch.optim.AdamW(
        [
            {"params": layers.parameters(), "lr": lr, "weight_decay": 0.01},
            {"params": head.parameters(), "lr": 1e-2, "weight_decay": 0.0},
        ]
    )
    batch, steps, step = 32, epochs * math.ceil(len(hidden) / 32), 0
    order = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        started, total = time.perf_counter(), 0.0
        permutation = torch.randperm(len(hidden), generator=order)
        for start in range(0, len(hidden), batch):
            rows = permutation[start : start + batch]
            # Linear warm-up over 50 steps, then cosine decay to zero.
            scale = min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / steps))
            for group, base in zip(optimizer.param_groups, base_lr, strict=True):
                group["lr"] = base * scale
            logits = head(_pooled(layers, [hidden[i] for i in rows]) * LOGIT_SCALE)
            loss = F.cross_entropy(logits, y[rows], weight=class_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            step += 1
        seconds = time.perf_counter() - started
        print(f"epoch {epoch}: loss {total / len(hidden):.4f} ({seconds:.0f} s)", flush=True)
    return {
        name + TENSORS[short]: layer.p[short].detach().numpy().astype(np.float32)
        for name, layer in zip(names, tuned, strict=True)
        for short in TENSORS
    }


def tuned_encoder(weights: dict[str, np.ndarray], tuned: dict[str, np.ndarray]) -> SentenceEncoder:
    encoder = SentenceEncoder.load()
    merged = {**weights, **tuned}
    prefix = "bert." if "bert.encoder.layer.0.output.dense.bias" in weights else ""
    encoder._layers = [
        _Layer(merged, f"{prefix}encoder.layer.{i}.") for i in range(len(encoder._layers))
    ]
    return encoder


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


def on_eval_set(encoder: SentenceEncoder, model: LinearModel) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifier.npz"
        model.save(path)
        # The policy engine takes its encoder from the shared loader; hand it this one.
        with mock.patch("reelforge.safety.policy.shared_encoder", lambda *_: encoder):
            engine = PolicyEngine(PolicyConfig(classifier_path=path))
            prompts = load_eval_set()
            measures = score(prompts, [predicted_label(engine, p.text) for p in prompts])
    return {
        "recall": {c: round(m["recall"], 3) for c, m in measures["per_category"].items()},
        "recall_min": round(measures["recall_min"], 3),
        "over_refusal_near_miss": round(measures["over_refusal_near_miss"], 3),
        "over_refusal_benign": round(measures["over_refusal_benign"], 3),
        "refused_by_kind": {k: round(m["refused"], 3) for k, m in measures["by_kind"].items()},
        "named_category_accuracy": round(measures["named_category_accuracy"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=6, help="top layers to tune (1-6)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--eval", action="store_true", help="also run the evaluation set")
    parser.add_argument("--out", type=Path, help="write the measures here as JSON")
    args = parser.parse_args()
    torch.set_num_threads(2)

    from safetensors.numpy import load_file

    frozen = SentenceEncoder.load()
    weights = {
        k: v.astype(np.float32)
        for k, v in load_file(str(frozen.model_dir / "model.safetensors")).items()
        if v.dtype.kind == "f"
    }
    runs: dict[str, dict[str, object]] = {}
    tuned = finetune(frozen, weights, args.layers, args.epochs, args.lr)
    for name, encoder in (("frozen", frozen), ("tuned", tuned_encoder(weights, tuned))):
        model, featurizer = train(encoder=encoder)
        runs[name] = {"held_out": held_out(model, featurizer)}
        if args.eval:
            runs[name]["eval_set"] = on_eval_set(encoder, model)
        print(name, json.dumps(runs[name]), flush=True)
    result = {"layers": args.layers, "epochs": args.epochs, "lr": args.lr, "runs": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
