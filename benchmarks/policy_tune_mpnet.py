"""Tune all-mpnet-base-v2 for the content policy as `safety.tune` tunes MiniLM, for
`policy_encoders.py` to measure. Not part of the shipped policy (docs/POLICY.md).

    OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/policy_tune_mpnet.py \\
        /tmp/mpnet/all-mpnet-base-v2 /tmp/mpnet/tuned
    OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/policy_encoders.py \\
        --mpnet /tmp/mpnet/all-mpnet-base-v2 --mpnet /tmp/mpnet/tuned

What tune.py does, on the training split only: a LoRA update (its rank, scale and learning
rates) to every linear map of every encoder layer, the LayerNorms tuned whole, under a
linear head with class-balanced cross-entropy on the unit-norm mean-pooled embedding; two
epochs rather than three (an mpnet epoch is about 8 minutes on two cores). The updates are
merged into the weights and the model saved, with its tokenizer, as a sentence-transformers
directory (438 MB in float32). Deterministic on one machine and thread count.
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from reelforge.safety.classifier import CLASSES
from reelforge.safety.dataset import load_prompts
from reelforge.safety.resources import text_tools
from reelforge.safety.tune import LOGIT_SCALE, TuneConfig, run_epochs


class LoRALinear(torch.nn.Module):
    """A frozen linear map plus a trainable low-rank update, B zero so tuning starts from
    the model as shipped."""

    def __init__(self, base: torch.nn.Linear, config: TuneConfig) -> None:
        super().__init__()
        rank = config.rank or 16
        self.base, self.scale = base, config.alpha / rank
        down = torch.randn(rank, base.in_features)  # torch's seeded generator, in layer order
        self.a = torch.nn.Parameter(down / math.sqrt(base.in_features))
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * F.linear(F.linear(x, self.a), self.b)

    def merged(self) -> torch.nn.Linear:
        self.base.weight.data += self.scale * (self.b @ self.a).data
        return self.base


def _swap(module: torch.nn.Module, swap: type, make: object) -> None:
    """Replace every child of type `swap` (recursively) by `make(child)`."""
    for name, child in list(module.named_children()):
        if isinstance(child, swap):
            setattr(module, name, make(child))  # type: ignore[operator]
        else:
            _swap(child, swap, make)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an all-mpnet-base-v2 directory")
    parser.add_argument("out", type=Path, help="where to write the tuned model")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from transformers import AutoModel, AutoTokenizer

    config = TuneConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.source)
    model = AutoModel.from_pretrained(args.source)
    model.requires_grad_(False)
    _swap(model.encoder, torch.nn.Linear, lambda base: LoRALinear(base, config))
    norms = [p for n, p in model.encoder.named_parameters() if "LayerNorm" in n]
    for p in norms:
        p.requires_grad_(True)
    low_rank = [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.a, m.b)]
    head = torch.nn.Linear(model.config.hidden_size, len(CLASSES))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    groups = [
        (low_rank, config.lr, 0.0),
        (norms, config.lr_whole, 0.01),
        (list(head.parameters()), config.lr_head, 0.0),
    ]
    optimizer = torch.optim.AdamW(
        [{"params": params, "lr": lr, "weight_decay": decay} for params, lr, decay in groups]
    )

    tools = text_tools()
    prompts = [p for p in load_prompts() if not p.held_out]
    texts = [tools.normalizer.normalize(p.text).clean for p in prompts]
    y = torch.tensor([CLASSES.index(p.label) for p in prompts])
    class_weight = len(y) / (len(CLASSES) * torch.bincount(y, minlength=len(CLASSES)).float())
    model.train()

    def loss_of(rows: torch.Tensor) -> torch.Tensor:
        batch = tokenizer(
            [texts[i] for i in rows],
            padding=True,
            truncation=True,
            max_length=128,
            return_tensors="pt",
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        return F.cross_entropy(head(pooled * LOGIT_SCALE), y[rows], weight=class_weight)

    rates = [lr for _, lr, _ in groups]
    run_epochs(optimizer, rates, len(texts), config, loss_of, epochs=args.epochs)
    _swap(model.encoder, LoRALinear, lambda tuned: tuned.merged())
    model.eval()
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    shutil.copy(args.source / "sentence_bert_config.json", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
