"""The labelled prompt set: built from templates, split by group, read by training,
tests and the benchmark.

    python -m reelforge.safety.dataset   # rewrites data/prompts.jsonl (deterministic)

`data/prompt_templates.json` holds per-category templates with `{slot}` placeholders, slot
fillers, framing prefixes and suffixes shared by every label, and hand-written prompts.
Each template is filled `per_template` times with a
random generator seeded by the template's id, so the output never changes unless the
templates do. A group (one template, or one hand-written prompt) is held out as a whole,
chosen by a hash of its id, so no held-out prompt shares a template with a training one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reelforge.safety.decision import BENIGN, CONTENT_CATEGORIES

__all__ = ["PROMPTS_PATH", "TEMPLATES_PATH", "LabelledPrompt", "build_prompts", "load_prompts"]

DATA_DIR = Path(__file__).resolve().parent / "data"
TEMPLATES_PATH = DATA_DIR / "prompt_templates.json"
PROMPTS_PATH = DATA_DIR / "prompts.jsonl"
BOUNDARY = "benign_boundary"  # benign prompts that share words or topics with a category
HELD_OUT_SHARE = 4  # one group in four is held out
_SLOT = re.compile(r"\{(\w+)\}")
_MAX_ATTEMPTS = 50  # draws per wanted prompt before a template counts as exhausted


@dataclass(frozen=True)
class LabelledPrompt:
    text: str
    label: str  # "benign" or one of CONTENT_CATEGORIES
    group: str  # "<section>/t<index>" for a template, "<section>/h<index>" hand-written
    boundary: bool  # a benign prompt near a category's boundary
    held_out: bool


def is_held_out(group: str) -> bool:
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % HELD_OUT_SHARE == 0


def _substitute(template: str, values: list[str]) -> str:
    remaining = iter(values)
    return _SLOT.sub(lambda _: next(remaining), template)


def _fill(
    template: str,
    slots: dict[str, list[str]],
    frames: dict[str, list[str]],
    count: int,
    seed: str,
) -> list[str]:
    rng = random.Random(seed)
    names = _SLOT.findall(template)
    unknown = sorted(set(names) - slots.keys())
    if unknown:
        raise ValueError(f"template {template!r} uses unknown slots {unknown}")
    filled: list[str] = []
    for _ in range(count * _MAX_ATTEMPTS):
        text = _substitute(template, [rng.choice(slots[name]) for name in names])
        text = rng.choice(frames["prefixes"]) + text + rng.choice(frames["suffixes"])
        if rng.random() < 0.5:
            text = text[0].upper() + text[1:]
        if text not in filled:
            filled.append(text)
        if len(filled) == count:
            break
    return filled


def build_prompts(templates_path: Path = TEMPLATES_PATH) -> list[LabelledPrompt]:
    spec: dict[str, Any] = json.loads(templates_path.read_text(encoding="utf-8"))
    slots: dict[str, list[str]] = spec["slots"]
    frames: dict[str, list[str]] = spec["frames"]
    prompts: list[LabelledPrompt] = []
    seen: set[str] = set()
    for section, body in spec["categories"].items():
        label = BENIGN if section == BOUNDARY else section
        if label != BENIGN and label not in CONTENT_CATEGORIES:
            raise ValueError(f"unknown section {section!r} in {templates_path}")
        boundary = section == BOUNDARY
        groups: list[tuple[str, list[str]]] = [
            (f"{section}/t{i}", _fill(t, slots, frames, body["per_template"], f"{section}/t{i}"))
            for i, t in enumerate(body["templates"])
        ]
        groups += [(f"{section}/h{i}", [p]) for i, p in enumerate(body["prompts"])]
        for group, texts in groups:
            for text in texts:
                if text.lower() in seen:  # the same words under two labels would be noise
                    continue
                seen.add(text.lower())
                prompts.append(LabelledPrompt(text, label, group, boundary, is_held_out(group)))
    return prompts


def load_prompts(path: Path = PROMPTS_PATH) -> list[LabelledPrompt]:
    with path.open(encoding="utf-8") as lines:
        return [LabelledPrompt(**json.loads(line)) for line in lines if line.strip()]


def write_prompts(prompts: list[LabelledPrompt], path: Path) -> None:
    text = "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in prompts)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROMPTS_PATH)
    args = parser.parse_args()
    prompts = build_prompts()
    write_prompts(prompts, args.out)
    for label in (*CONTENT_CATEGORIES, BENIGN):
        rows = [p for p in prompts if p.label == label]
        held = sum(p.held_out for p in rows)
        print(f"{label:18s} {len(rows):4d} prompts, {held:3d} held out")
    boundary = [p for p in prompts if p.boundary]
    print(f"{'(near-boundary)':18s} {len(boundary):4d} prompts, "
          f"{sum(p.held_out for p in boundary):3d} held out")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
