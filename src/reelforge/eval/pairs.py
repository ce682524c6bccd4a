"""The pair test: two prompts that differ in one attribute, told apart from their clips.

A judge's absolute scores flatter weak engines: a blank clip passes "no characters", and
saturated noise passes "a red object is present". Here each pair of prompts differs in
exactly one attribute of one object group (its colour, its kind, how many there are, or
how it moves), both are generated with the same seed, and the judge reads from each clip
only the evidence for that attribute (`evidence`). The pair is told apart when each clip
is strictly closer to its own prompt than to the other one. Clips that do not depend on
the prompt (a blank clip, decoded noise, an engine that ignores the text) give the same
evidence for both and tie: their share is 0, not the 50 % a coin would get. A usable
engine tells at least 75 % of the pairs apart (issue 23); the report gives the share with
its 95 % Wilson interval, per attribute too.

    reelforge eval --engine sim --suite pairs --out pairs-report
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reelforge.eval.metrics import Observed, observe
from reelforge.eval.peers import PEERS, peer_clip
from reelforge.eval.reader import read_clip

Attribute = Literal["colour", "kind", "count", "motion"]
Motion = Literal["across", "down"]
USABLE_SHARE = 0.75


@dataclass(frozen=True)
class Asked:
    """What one prompt of a pair asks of its object group."""

    color: str
    kind: str
    count: int
    motion: Motion  # rolls or slides across the floor, or falls and bounces


@dataclass(frozen=True)
class PromptPair:
    id: str
    attribute: Attribute
    first: str
    second: str
    first_asked: Asked
    second_asked: Asked


def _pair(
    index: int, attribute: Attribute, first: str, second: str, a: Asked, b: Asked
) -> PromptPair:
    return PromptPair(f"{attribute}-{index:02d}", attribute, first, second, a, b)


_BALL_DOWN = Asked("red", "ball", 1, "down")
PAIRS: tuple[PromptPair, ...] = (
    _pair(1, "colour", "a red ball bounces in a gym", "a blue ball bounces in a gym",
          _BALL_DOWN, Asked("blue", "ball", 1, "down")),
    _pair(2, "colour", "a green box falls in a studio", "a yellow box falls in a studio",
          Asked("green", "box", 1, "down"), Asked("yellow", "box", 1, "down")),
    _pair(3, "colour", "two purple balls bounce in a park", "two orange balls bounce in a park",
          Asked("purple", "ball", 2, "down"), Asked("orange", "ball", 2, "down")),
    _pair(4, "colour", "a pink ball falls in a room", "a cyan ball falls in a room",
          Asked("pink", "ball", 1, "down"), Asked("cyan", "ball", 1, "down")),
    _pair(1, "kind", "a red ball falls in a gym", "a red box falls in a gym",
          _BALL_DOWN, Asked("red", "box", 1, "down")),
    _pair(2, "kind", "a blue box drops in a studio", "a blue ball drops in a studio",
          Asked("blue", "box", 1, "down"), Asked("blue", "ball", 1, "down")),
    _pair(3, "kind", "two green balls fall in a park", "two green boxes fall in a park",
          Asked("green", "ball", 2, "down"), Asked("green", "box", 2, "down")),
    _pair(4, "kind", "a yellow box falls in a room", "a yellow ball falls in a room",
          Asked("yellow", "box", 1, "down"), Asked("yellow", "ball", 1, "down")),
    _pair(1, "count", "one red ball bounces in a gym", "three red balls bounce in a gym",
          _BALL_DOWN, Asked("red", "ball", 3, "down")),
    _pair(2, "count", "two blue boxes fall in a studio", "four blue boxes fall in a studio",
          Asked("blue", "box", 2, "down"), Asked("blue", "box", 4, "down")),
    _pair(3, "count", "one green ball falls in a park", "two green balls fall in a park",
          Asked("green", "ball", 1, "down"), Asked("green", "ball", 2, "down")),
    _pair(4, "count", "three orange balls bounce in a room", "one orange ball bounces in a room",
          Asked("orange", "ball", 3, "down"), Asked("orange", "ball", 1, "down")),
    _pair(1, "motion", "a red ball rolls across the floor of a gym",
          "a red ball falls and bounces in a gym",
          Asked("red", "ball", 1, "across"), _BALL_DOWN),
    _pair(2, "motion", "a blue box slides across the floor of a studio",
          "a blue box falls in a studio",
          Asked("blue", "box", 1, "across"), Asked("blue", "box", 1, "down")),
    _pair(3, "motion", "a green ball falls and bounces in a park",
          "a green ball rolls across the grass of a park",
          Asked("green", "ball", 1, "down"), Asked("green", "ball", 1, "across")),
    _pair(4, "motion", "a yellow box falls in a room",
          "a yellow box slides across the floor of a room",
          Asked("yellow", "box", 1, "down"), Asked("yellow", "box", 1, "across")),
)  # fmt: skip


def evidence(observed: Observed, asked: Asked, attribute: Attribute) -> float:
    """How well the clip shows `asked` in the one `attribute` the pair varies (higher is
    closer). Colour: objects of that colour seen at once; kind: tracks of that colour
    whose shape, read frame by frame, is mostly that kind; count: minus the distance to
    the count asked; motion: how much more the colour's
    longest track travels in the direction asked than in the other, in frame widths."""
    counts = observed.counts
    if attribute == "colour":
        return float(sum(n for (color, _), n in counts.items() if color == asked.color))
    if attribute == "kind":  # by each track's majority: one frame's misreading is noise
        return float(sum(t.color == asked.color and t.kind == asked.kind for t in observed.tracks))
    if attribute == "count":
        seen = sum(n for (color, _), n in counts.items() if color == asked.color)
        return -float(abs(seen - asked.count))
    tracks = [t for t in observed.tracks if t.color == asked.color]
    if not tracks:
        return 0.0
    xy = max(tracks, key=lambda t: t.frames_seen).xy
    seen = xy[np.isfinite(xy[:, 0])]
    width = float(observed.reading.frames.shape[2])
    across = float(np.ptp(seen[:, 0])) / width if len(seen) else 0.0
    down = float(np.ptp(seen[:, 1])) / width if len(seen) else 0.0
    return across - down if asked.motion == "across" else down - across


@dataclass(frozen=True)
class PairResult:
    id: str
    attribute: Attribute
    told_apart: bool
    # evidence[i][j]: clip i (0: first prompt's) read against prompt j
    evidence: tuple[tuple[float, float], tuple[float, float]]


def judge_pair(pair: PromptPair, first: Observed, second: Observed) -> PairResult:
    asked = (pair.first_asked, pair.second_asked)
    table = tuple(
        (evidence(clip, asked[0], pair.attribute), evidence(clip, asked[1], pair.attribute))
        for clip in (first, second)
    )
    apart = table[0][0] > table[0][1] and table[1][1] > table[1][0]
    return PairResult(pair.id, pair.attribute, apart, (table[0], table[1]))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(results: Sequence[PairResult]) -> dict[str, Any]:
    def share(items: Sequence[PairResult]) -> dict[str, Any]:
        apart = sum(r.told_apart for r in items)
        low, high = wilson(apart, len(items))
        return {
            "pairs": len(items),
            "told_apart": apart,
            "share": apart / len(items) if items else None,
            "ci95": [round(low, 3), round(high, 3)],
        }

    attributes = sorted({r.attribute for r in results})
    overall = share(results)
    return {
        **overall,
        "usable": overall["share"] is not None and overall["share"] >= USABLE_SHARE,
        "by_attribute": {a: share([r for r in results if r.attribute == a]) for a in attributes},
    }


def run_pairs(
    make_clip: Callable[[str, int, Path], None],
    out_dir: Path,
    pairs: Sequence[PromptPair] = PAIRS,
    progress: Callable[[int, int, str], None] | None = None,
    peers: tuple[str, float, int] | None = None,
) -> dict[str, Any]:
    """Make both clips of every pair (`make_clip(prompt, seed, path)`, the same seed for
    both), judge them, and write `pairs.json` into `out_dir`; returns the report. With
    `peers` (size, seconds, fps), the blank and noise peers are judged on every pair
    too, in the same run: what a clip that ignores the prompt scores (0 by design)."""
    clips = out_dir / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    results: list[PairResult] = []
    for index, pair in enumerate(pairs):
        if progress:
            progress(index, len(pairs), pair.id)
        observed = []
        for which, prompt in (("a", pair.first), ("b", pair.second)):
            path = clips / f"{pair.id}-{which}.mp4"
            make_clip(prompt, index, path)
            observed.append(observe(read_clip(path)))
        results.append(judge_pair(pair, observed[0], observed[1]))
    if progress:
        progress(len(pairs), len(pairs), "done")
    report: dict[str, Any] = {
        "summary": summarize(results),
        "pairs": [
            {**asdict(r), "first": p.first, "second": p.second}
            for r, p in zip(results, pairs, strict=True)
        ],
    }
    if peers is not None:
        report["peers"] = {}
        for kind in PEERS:
            path = clips / f"peer-{kind}.mp4"
            peer_clip(kind, path, *peers)
            seen = observe(read_clip(path))  # the same clip for both prompts of a pair
            report["peers"][kind] = summarize([judge_pair(p, seen, seen) for p in pairs])
    (out_dir / "pairs.json").write_text(json.dumps(report, indent=1))
    return report
