"""How long `evaluate_clip` takes on a 10 s 720x1280 24 fps sim clip (target ≤ 2 s).

Peer, measured in the same run: ffmpeg decoding the same clip to nothing
(`ffmpeg -i clip.mp4 -f null -`), the floor for any judge that reads every frame.
Medians over --runs go to docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/eval_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_doc import write_section
from reelforge import pipeline
from reelforge.eval.metrics import Expected, evaluate_clip
from reelforge.types import Request

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (
    "Three red rubber balls and a blue wooden crate fall onto the floor of a kitchen. "
    'A woman in a green shirt says "Look out below!" and a man replies "Nice catch."'
)
EXPECTED = Expected(objects=(("ball", "red", 3), ("box", "blue", 1)), characters=2, dialogue=True)
MARK_BEGIN, MARK_END = "<!-- eval_speed:begin -->", "<!-- eval_speed:end -->"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        pipeline.generate(Request(prompt=PROMPT, seconds=10, seed=7), clip)
        ours, peers, reads = [], [], []
        for run in range(args.runs):
            started = time.perf_counter()
            metrics = evaluate_clip(clip, EXPECTED)
            ours.append(time.perf_counter() - started)
            reads.append(metrics.timings_s["read_s"])
            started = time.perf_counter()
            subprocess.run(
                ["ffmpeg", "-v", "error", "-i", str(clip), "-f", "null", "-"], check=True
            )
            peers.append(time.perf_counter() - started)
            print(
                f"run {run + 1}: evaluate {ours[-1]:.2f} s, ffmpeg decode {peers[-1]:.2f} s",
                file=sys.stderr,
            )
    ours_s, peer_s = statistics.median(ours), statistics.median(peers)
    table = "\n".join(
        [
            MARK_BEGIN,
            "### `evaluate_clip`, 10 s 720x1280 24 fps sim clip with dialogue",
            "",
            f"`benchmarks/eval_speed.py --runs {args.runs}`; medians; 2-core CPU.",
            "",
            "| measure | median |",
            "|---|---|",
            f"| **evaluate one clip** (decode + every detector and metric; target ≤ 2 s) | "
            f"**{ours_s:.2f} s** |",
            f"| of which reading (decode, downscale to half size, audio) | "
            f"{statistics.median(reads):.2f} s |",
            f"| peer: ffmpeg decoding the same clip to null | {peer_s:.2f} s |",
            f"| ratio: evaluation / ffmpeg decode | {ours_s / peer_s:.2f} |",
            MARK_END,
        ]
    )
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
