"""Tune the sentence encoder for the content policy, and write the adapter the policy
reads it through.

    .venv/bin/python -m reelforge.safety.tune    # rewrites data/encoder_adapter.safetensors
    .venv/bin/python -m reelforge.safety.train   # then refit the classifier over it

The classifier (`classifier.py`) reads an all-MiniLM-L6-v2 embedding. Frozen, that
embedding puts plainly worded harm about as close to harm as to everyday scenes, and no
linear read of it reached the policy's targets (docs/POLICY.md). So every encoder layer is
tuned on the training split (never the held-out split or the evaluation set): a low-rank
update (LoRA, rank 16) to each of its six weight matrices, its biases and LayerNorms tuned
whole, under a linear head with class-balanced cross-entropy on the unit-norm mean-pooled
embedding (what the classifier reads). Only the tuned tensors are written, in float16
(1.4 MB; `with_adapter` in `recaption/embedding.py` applies them to the numpy encoder); the
head is thrown away, and `train.py` refits the classifier over the tuned embeddings.
Other users of MiniLM (recaptioning, the feed, the dit) keep the plain encoder.

Deterministic on one machine and thread count (fixed seeds, data order and two torch
threads); float arithmetic differs between machines, so a rerun elsewhere gives a nearby
adapter, not the same bytes. About 3 to 4 minutes on two cores.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from reelforge.recaption.embedding import SentenceEncoder
from reelforge.safety.classifier import CLASSES
from reelforge.safety.dataset import load_prompts
from reelforge.safety.resources import ADAPTER_PATH, text_tools

__all__ = ["TuneConfig", "main", "run_epochs", "save_adapter", "tune"]

# A BERT layer's tensors by short name: the six matrices (each with its bias) and the two
# LayerNorms.
MATRICES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "o": "attention.output.dense",
    "i": "intermediate.dense",
    "u": "output.dense",
}
NORMS = {"ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}
LOGIT_SCALE = 20.0  # the head reads a unit-norm embedding: cosine-like logits


@dataclass(frozen=True)
class TuneConfig:
    rank: int | None = 16  # of each matrix's update; None tunes the matrices whole
    alpha: float = 32.0  # LoRA's scale is alpha / rank
    epochs: int = 3
    batch: int = 32
    lr: float = 5e-4  # the low-rank factors (whole matrices: 3e-5)
    lr_whole: float = 3e-5  # biases, LayerNorms, and whole matrices
    lr_head: float = 1e-2
    # Weight of the anchor: 1 - cosine between the tuned and the frozen embedding of each
    # training prompt, which keeps everyday text where the frozen encoder put it.
    anchor: float = 0.0
    warmup_steps: int = 50
    seed: int = 0
    threads: int = 2


class TunedLayer(torch.nn.Module):
    """One BERT encoder layer from the shipped weights, with trainable low-rank updates
    (or whole matrices), biases and LayerNorms."""

    def __init__(
        self, weights: dict[str, NDArray[np.float32]], prefix: str, heads: int, config: TuneConfig
    ) -> None:
        super().__init__()
        self.prefix, self.heads, self.rank = prefix, heads, config.rank
        self.scale = config.alpha / config.rank if config.rank else 1.0

        def tensor(name: str) -> torch.Tensor:
            return torch.from_numpy(weights[prefix + name].copy())

        whole: dict[str, torch.Tensor] = {}
        for short, name in MATRICES.items():
            whole[f"{short}_b"] = tensor(name + ".bias")
            if config.rank is None:
                whole[f"{short}_w"] = tensor(name + ".weight")
            else:
                self.register_buffer(f"{short}_w", tensor(name + ".weight"))
        for short, name in NORMS.items():
            whole[f"{short}_w"], whole[f"{short}_b"] = (
                tensor(name + ".weight"),
                tensor(name + ".bias"),
            )
        self.whole = torch.nn.ParameterDict(whole)
        self.low_rank = torch.nn.ParameterDict()
        if config.rank is not None:
            generator = torch.Generator().manual_seed(config.seed)
            for short in MATRICES:
                out_dim, in_dim = getattr(self, f"{short}_w").shape
                # As LoRA: A random, B zero, so tuning starts from the shipped layer.
                down = torch.randn(config.rank, in_dim, generator=generator) / math.sqrt(in_dim)
                self.low_rank[f"{short}_a"] = torch.nn.Parameter(down)
                self.low_rank[f"{short}_b"] = torch.nn.Parameter(torch.zeros(out_dim, config.rank))

    def matrix(self, short: str) -> torch.Tensor:
        if self.rank is None:
            return self.whole[f"{short}_w"]
        update = self.low_rank[f"{short}_b"] @ self.low_rank[f"{short}_a"]
        base: torch.Tensor = getattr(self, f"{short}_w")
        return base + self.scale * update

    def linear(self, x: torch.Tensor, short: str) -> torch.Tensor:
        return F.linear(x, self.matrix(short), self.whole[f"{short}_b"])

    def norm(self, x: torch.Tensor, short: str) -> torch.Tensor:
        w = self.whole
        return F.layer_norm(x, x.shape[-1:], w[f"{short}_w"], w[f"{short}_b"], 1e-12)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        hd = d // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, hd).transpose(1, 2)

        q, k, v = (split(self.linear(x, s)) for s in "qkv")
        attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + key_bias, dim=-1)
        context = (attention @ v).transpose(1, 2).reshape(b, n, d)
        x = self.norm(self.linear(context, "o") + x, "ln1")
        return self.norm(self.linear(F.gelu(self.linear(x, "i")), "u") + x, "ln2")

    def adapter(self) -> dict[str, NDArray[np.float32]]:
        """The tuned tensors under the model's names, as `with_adapter` reads them."""
        out: dict[str, NDArray[np.float32]] = {}

        def put(name: str, t: torch.Tensor) -> None:
            out[self.prefix + name] = t.detach().numpy().astype(np.float32)

        for short, name in MATRICES.items():
            put(name + ".bias", self.whole[f"{short}_b"])
            if self.rank is None:
                put(name + ".weight", self.whole[f"{short}_w"])
            else:
                put(name + ".weight.lora_a", self.low_rank[f"{short}_a"])
                put(name + ".weight.lora_b", self.low_rank[f"{short}_b"] * self.scale)
        for short, name in NORMS.items():
            put(name + ".weight", self.whole[f"{short}_w"])
            put(name + ".bias", self.whole[f"{short}_b"])
        return out


def _pooled(layers: torch.nn.ModuleList, batch: list[torch.Tensor]) -> torch.Tensor:
    """Unit-norm mean-pooled embeddings (B, D) of token embeddings of different lengths."""
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


def run_epochs(
    optimizer: torch.optim.Optimizer,
    rates: list[float],
    count: int,
    config: TuneConfig,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    epochs: int | None = None,
) -> None:
    """Minimise `loss_of(rows)` over batches of `count` rows (`config.batch`, shuffled each
    epoch from `config.seed`), each parameter group's rate (`rates`) warmed up linearly over
    `config.warmup_steps`, then decayed along a cosine to zero."""
    epochs = config.epochs if epochs is None else epochs
    steps, step = epochs * math.ceil(count / config.batch), 0
    order = torch.Generator().manual_seed(config.seed)
    for epoch in range(epochs):
        started, total = time.perf_counter(), 0.0
        permutation = torch.randperm(count, generator=order)
        for start in range(0, count, config.batch):
            rows = permutation[start : start + config.batch]
            warm = min(1.0, (step + 1) / config.warmup_steps)
            decay = 0.5 * (1 + math.cos(math.pi * step / steps))
            for group, rate in zip(optimizer.param_groups, rates, strict=True):
                group["lr"] = rate * warm * decay
            loss = loss_of(rows)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            step += 1
        seconds = time.perf_counter() - started
        print(f"epoch {epoch}: loss {total / count:.4f} ({seconds:.0f} s)", flush=True)


def tune(
    config: TuneConfig = TuneConfig(),
    encoder: SentenceEncoder | None = None,
    weights: dict[str, NDArray[np.float32]] | None = None,
) -> dict[str, NDArray[np.float32]]:
    """The adapter tuned on the training split: {tensor name: float32 array}."""
    from safetensors.numpy import load_file

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    encoder = encoder or SentenceEncoder.load()
    if weights is None:
        stored = load_file(str(encoder.model_dir / "model.safetensors"))
        weights = {k: v.astype(np.float32) for k, v in stored.items() if v.dtype.kind == "f"}
    tools = text_tools()
    prompts = [p for p in load_prompts() if not p.held_out]
    texts = [tools.normalizer.normalize(p.text).clean for p in prompts]
    tokens = [torch.from_numpy(t) for t in encoder.token_embeddings(texts)]  # not tuned
    frozen = torch.from_numpy(encoder.encode(texts)) if config.anchor else None
    y = torch.tensor([CLASSES.index(p.label) for p in prompts])

    prefix = "bert." if "bert.encoder.layer.0.output.dense.bias" in weights else ""
    tuned = [
        TunedLayer(weights, f"{prefix}encoder.layer.{i}.", encoder.num_heads, config)
        for i in range(encoder.n_layers)
    ]
    layers = torch.nn.ModuleList(tuned)
    head = torch.nn.Linear(encoder.dim, len(CLASSES))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    # (parameters, learning rate, weight decay)
    groups: list[tuple[list[torch.nn.Parameter], float, float]] = [
        ([p for t in tuned for p in t.whole.values()], config.lr_whole, 0.01),
        ([p for t in tuned for p in t.low_rank.values()], config.lr, 0.0),
        (list(head.parameters()), config.lr_head, 0.0),
    ]
    groups = [g for g in groups if g[0]]
    optimizer = torch.optim.AdamW(
        [{"params": params, "lr": lr, "weight_decay": decay} for params, lr, decay in groups]
    )
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    class_weight = len(y) / (len(CLASSES) * counts)  # each class weighs the same

    def loss_of(rows: torch.Tensor) -> torch.Tensor:
        pooled = _pooled(layers, [tokens[i] for i in rows])
        loss = F.cross_entropy(head(pooled * LOGIT_SCALE), y[rows], weight=class_weight)
        if frozen is not None:
            loss = loss + config.anchor * (1 - (pooled * frozen[rows]).sum(1)).mean()
        return loss

    run_epochs(optimizer, [lr for _, lr, _ in groups], len(tokens), config, loss_of)
    return {name: value for layer in tuned for name, value in layer.adapter().items()}


def save_adapter(adapter: dict[str, NDArray[np.float32]], path: Path) -> None:
    """Stored in float16 (what the policy then reads, so measure after saving)."""
    from safetensors.numpy import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.astype(np.float16) for k, v in sorted(adapter.items())}, str(tmp))
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Tune the policy's sentence encoder.")
    parser.add_argument("--out", type=Path, default=ADAPTER_PATH)
    parser.add_argument("--epochs", type=int, default=TuneConfig.epochs)
    parser.add_argument("--anchor", type=float, default=TuneConfig.anchor)
    args = parser.parse_args()
    started = time.perf_counter()
    save_adapter(tune(TuneConfig(epochs=args.epochs, anchor=args.anchor)), args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
