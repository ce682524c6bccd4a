"""End-to-end `reelforge generate` of a 10 s 720x1280 24 fps clip with audio and dialogue.

Reports the real-time factor (wall time / clip length) of the whole command, the split
between its stages (from the sidecar's timings), and, as a peer measured in the same run,
ffmpeg's own time to transcode the same clip with libx264 at the same preset: a ratio that
stays meaningful on a faster or slower machine. Medians over --runs runs go to
docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/generate_sim.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_doc import write_section

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (
    "Three red rubber balls and a blue wooden crate fall onto the floor of a kitchen. "
    'A woman in a green shirt says "Look out below!" and a man replies "Nice catch."'
)
SECONDS = 10.0
STAGES = (
    "recaption_s",
    "engine.speech_s",
    "engine.physics_s",
    "engine.render_s",
    "engine.audio_s",
    "encode_s",
)
MARK_BEGIN = "<!-- generate_sim:begin -->"
MARK_END = "<!-- generate_sim:end -->"


def run_once(out_dir: Path, seed: int) -> tuple[float, dict[str, float], Path]:
    out = out_dir / f"bench-{seed}.mp4"
    started = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / ".venv/bin/reelforge"),
            "generate",
            PROMPT,
            "-q",
            "-o",
            str(out),
            "--seconds",
            str(SECONDS),
            "--size",
            "720x1280",
            "--fps",
            "24",
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    timings = json.loads(out.with_suffix(".json").read_text())["timings_s"]
    return wall, timings, out


def ffmpeg_transcode(path: Path, out_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(path),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            str(out_dir / "peer.mp4"),
        ],
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    walls, peers = [], []
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        for run in range(args.runs):
            wall, timings, path = run_once(out_dir, seed=100 + run)
            walls.append(wall)
            for key in STAGES:
                stages[key].append(timings.get(key, 0.0))
            peers.append(ffmpeg_transcode(path, out_dir))
            print(
                f"run {run + 1}: wall {wall:.2f} s, RTF {wall / SECONDS:.3f}, "
                f"peer transcode {peers[-1]:.2f} s",
                file=sys.stderr,
            )
    wall = statistics.median(walls)
    peer = statistics.median(peers)
    lines = [
        MARK_BEGIN,
        "### `reelforge generate`, sim engine, 10 s 720x1280 24 fps with dialogue",
        "",
        f"`benchmarks/generate_sim.py --runs {args.runs}`; medians; 2-core CPU.",
        "",
        "| measure | median |",
        "|---|---|",
        f"| wall time of the whole command | {wall:.2f} s |",
        f"| **real-time factor** (wall / 10 s; target ≤ 0.5) | **{wall / SECONDS:.3f}** |",
        f"| peer: ffmpeg transcoding the same clip (libx264 veryfast + AAC) | {peer:.2f} s |",
        f"| ratio: our whole generation / ffmpeg transcode | {wall / peer:.2f} |",
    ]
    for key in STAGES:
        lines.append(f"| stage `{key}` | {statistics.median(stages[key]):.3f} s |")
    startup = wall - statistics.median([sum(v) for v in zip(*stages.values(), strict=True)])
    lines.append(f"| process start-up, imports, sidecar (the rest) | {startup:.3f} s |")
    lines.append(MARK_END)
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
