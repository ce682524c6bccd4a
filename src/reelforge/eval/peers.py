"""Peers for the judge: clips that do not depend on the prompt, judged in the same run as
an engine so that its scores read against what ignoring the prompt would score (issue 23:
a blank clip passed "no characters", saturated noise "colour present").

- "blank": mid-grey frames, silence;
- "noise": saturated random colour blocks of 16 px (what an untrained decoder's output
  looks like) and white noise;
- "mismatched": a real clip of another prompt of the run (the ceiling's clip of the next
  prompt), judged against this one: good pictures that do not follow the prompt.

Above them, the ceiling: what the engine's representation allows at best (for the sim,
its own clips; for another engine, the sim's clip of the same request at the run's size),
so that an engine is read between ignoring its prompt and the best it could do.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

PEERS = ("blank", "noise")


def peer_clip(kind: str, path: Path, size: str, seconds: float, fps: int) -> None:
    """A clip that does not depend on the prompt, as a peer: "blank" (mid-grey, silent) or
    "noise" (saturated random colour blocks, as decoded noise looks, and white noise)."""
    from reelforge.media import encode_mp4
    from reelforge.types import AUDIO_SAMPLE_RATE, parse_size

    width, height = parse_size(size)
    count = max(1, round(seconds * fps))
    rng = np.random.default_rng(0)
    samples = round(seconds * AUDIO_SAMPLE_RATE)
    if kind == "blank":
        frames = np.full((count, height, width, 3), 128, np.uint8)
        audio = np.zeros((2, samples), np.float32)
    elif kind == "noise":
        blocks = rng.integers(0, 256, (count, height // 16 + 1, width // 16 + 1, 3), np.uint8)
        frames = np.repeat(np.repeat(blocks, 16, axis=1), 16, axis=2)[:, :height, :width]
        audio = (0.1 * rng.standard_normal((2, samples))).astype(np.float32)
    else:
        raise ValueError(f"peer must be one of {', '.join(PEERS)}, got {kind!r}")
    encode_mp4(path, np.ascontiguousarray(frames), audio, fps)


def bootstrap_ci(values: list[float], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of the mean of `values` (resampled with
    replacement, a fixed seed so a report reads the same twice)."""
    if not values:
        return (float("nan"), float("nan"))
    data = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, (rounds, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return (float(low), float(high))


def faithfulness_against_peers(
    engine_scores: dict[str, float],
    peer_scores: dict[str, dict[str, float]],
    ceiling_scores: dict[str, float] | None = None,
) -> dict[str, object]:
    """The engine's mean faithfulness and each peer's on the same prompts (`engine_scores`:
    prompt id → score; `peer_scores`: peer → prompt id → score), with 95 % intervals, and
    the engine's margin over the best peer, prompt by prompt (a paired interval).

    With `ceiling_scores` (what the representation's ceiling scores on the same prompts),
    also the ceiling and the engine's place between the best peer and it:
    (engine − peer) / (ceiling − peer), 0 for a clip that ignores its prompt, 1 for the
    ceiling, with an interval from resampling the prompts together."""
    ids = sorted(engine_scores)
    out: dict[str, object] = {}
    engine = [engine_scores[i] for i in ids]
    out["engine"] = {"mean": statistics.fmean(engine), "ci95": bootstrap_ci(engine)}
    best_name, best_mean = None, -1.0
    for name, scores in peer_scores.items():
        values = [scores[i] for i in ids]
        mean = statistics.fmean(values)
        out[name] = {"mean": mean, "ci95": bootstrap_ci(values)}
        if mean > best_mean:
            best_name, best_mean = name, mean
    if best_name is not None:
        margin = [engine_scores[i] - peer_scores[best_name][i] for i in ids]
        out["margin_over_best_peer"] = {
            "peer": best_name,
            "mean": statistics.fmean(margin),
            "ci95": bootstrap_ci(margin),
        }
    if ceiling_scores is not None and best_name is not None:
        ceiling = [ceiling_scores[i] for i in ids]
        out["ceiling"] = {"mean": statistics.fmean(ceiling), "ci95": bootstrap_ci(ceiling)}
        peer = [peer_scores[best_name][i] for i in ids]
        out["relative_to_peers"] = {
            "mean": _relative(engine, peer, ceiling),
            "ci95": _relative_ci(engine, peer, ceiling),
        }
    return out


def _relative(engine: list[float], peer: list[float], ceiling: list[float]) -> float:
    span = statistics.fmean(ceiling) - statistics.fmean(peer)
    if span <= 0:  # the ceiling is no better than ignoring the prompt: nothing to read
        return float("nan")
    return (statistics.fmean(engine) - statistics.fmean(peer)) / span


def _relative_ci(
    engine: list[float], peer: list[float], ceiling: list[float], rounds: int = 2000
) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    data = np.asarray([engine, peer, ceiling], np.float64)  # (3, prompts)
    picks = rng.integers(0, data.shape[1], (rounds, data.shape[1]))
    means = data[:, picks].mean(axis=2)  # (3, rounds)
    span = means[2] - means[1]
    valid = span > 0
    if not valid.any():
        return (float("nan"), float("nan"))
    values = (means[0, valid] - means[1, valid]) / span[valid]
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))
