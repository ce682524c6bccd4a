"""How well the judge's detectors agree with the sim engine's own event log, over suite
prompts (not just the hand-picked clips of tests/eval/test_judge.py).

For each of the first --n prompts of the core suite: generate with sim (4 s, 720x1280,
seed = index), then compare the judge's audio onsets and visual contacts with the logged
contacts, and its object counts with the plan. Writes a table to docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/judge_agreement.py [--n 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmark_doc import write_section
from reelforge import pipeline
from reelforge.eval.metrics import match_events, observe
from reelforge.eval.reader import read_clip
from reelforge.eval.suite import default_suite_path, load_suite
from reelforge.types import Request

ROOT = Path(__file__).resolve().parents[1]
MARK_BEGIN, MARK_END = "<!-- judge_agreement:begin -->", "<!-- judge_agreement:end -->"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    prompts = load_suite(default_suite_path())[: args.n]
    onset_errors, visual_errors = [], []
    logged = onsets = visual = onset_matches = visual_matches = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, prompt in enumerate(prompts):
            result = pipeline.generate(
                Request(prompt=prompt.prompt, seconds=4, seed=index), Path(tmp) / "c.mp4"
            )
            observed = observe(read_clip(result.video_path))
            truth = np.array([c.time_s for c in result.clip.contacts])
            seen = np.array([c.time_s for c in observed.contacts])
            heard = observed.onsets_s
            frame = 1 / result.clip.fps
            for t in truth:
                if heard.size:
                    onset_errors.append(float(np.min(np.abs(heard - t))))
                if seen.size:
                    visual_errors.append(float(np.min(np.abs(seen - t))))
            logged += truth.size
            onsets += heard.size
            visual += seen.size
            onset_matches += match_events(heard, truth, frame)
            visual_matches += match_events(seen, truth, frame)
            print(f"{index + 1}/{len(prompts)} {prompt.id}", file=sys.stderr)
    onset_e, visual_e = np.array(onset_errors), np.array(visual_errors)
    frame_s = 1 / 24
    table = "\n".join(
        [
            MARK_BEGIN,
            f"### The judge against the sim's own log, first {len(prompts)} suite prompts",
            "",
            f"`benchmarks/judge_agreement.py --n {args.n}`; {logged} logged contacts "
            "(every contact at ≥ 0.3 m/s, including several within a few ms of each other).",
            "",
            "| measure | audio onsets | visual contacts |",
            "|---|---|---|",
            f"| logged contacts with a detection within ±1 frame | "
            f"{np.mean(onset_e <= frame_s):.3f} | {np.mean(visual_e <= frame_s):.3f} |",
            f"| median error of the nearest detection | {np.median(onset_e) * 1000:.1f} ms | "
            f"{np.median(visual_e) * 1000:.1f} ms |",
            f"| detections matching a logged contact one-to-one (precision) | "
            f"{onset_matches / max(onsets, 1):.3f} | {visual_matches / max(visual, 1):.3f} |",
            f"| logged contacts matched one-to-one (recall) | {onset_matches / logged:.3f} | "
            f"{visual_matches / logged:.3f} |",
            MARK_END,
        ]
    )
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
