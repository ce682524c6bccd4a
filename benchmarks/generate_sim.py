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
import dataclasses
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
    "policy_s",
    "mark_s",
    "encode_s",
    "sign_s",
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


def provenance_overhead(out_dir: Path, repeats: int) -> dict[str, float]:
    """What marking and signing add to encoding, measured in this process on one clip:
    the visible mark, the audio watermark and the video watermarker's set-up ("mark"), the
    luma hook during encoding (encode with it − encode without it, alternated), and C2PA
    signing. Medians of `repeats` rounds."""
    from reelforge.engines.sim import SimEngine
    from reelforge.media import encode_mp4
    from reelforge.provenance.identity import load_identity
    from reelforge.provenance.manifest import ManifestFacts, sign_mp4
    from reelforge.provenance.mark import mark_clip
    from reelforge.recaption import recaption
    from reelforge.settings import Settings

    settings = Settings(data_dir=out_dir / "data")
    identity = load_identity(settings)
    plan, _ = recaption(PROMPT, 7, settings)
    clip = SimEngine(settings).generate(plan, seconds=SECONDS, size="720x1280", fps=24, seed=7)
    times: dict[str, list[float]] = {"plain": [], "hooked": [], "mark": [], "sign": []}
    for round_ in range(repeats):
        fresh = dataclasses.replace(clip, frames=clip.frames.copy())
        t0 = time.perf_counter()
        marks = mark_clip(fresh, round_ + 1, identity.watermark_key, "bench")
        times["mark"].append(time.perf_counter() - t0)
        for hooked in (False, True):
            t0 = time.perf_counter()
            encode_mp4(
                out_dir / "o.mp4",
                fresh.frames,
                marks.audio,
                24,
                marks.sample_rate,
                luma=marks.video.embed_luma if hooked else None,
            )
            times["hooked" if hooked else "plain"].append(time.perf_counter() - t0)
        facts = ManifestFacts("o.mp4", round_ + 1, SECONDS, "sim")
        t0 = time.perf_counter()
        sign_mp4(out_dir / "o.mp4", out_dir / "signed.mp4", facts, identity)
        times["sign"].append(time.perf_counter() - t0)
    return {key: statistics.median(values) for key, values in times.items()}


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
        overhead = provenance_overhead(out_dir, repeats=max(3, args.runs))
    wall = statistics.median(walls)
    peer = statistics.median(peers)
    added = overhead["mark"] + (overhead["hooked"] - overhead["plain"]) + overhead["sign"]
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
    lines.append(
        f"| process start-up, imports, policy models, registry, sidecar (the rest) | "
        f"{startup:.3f} s |"
    )
    lines += [
        "",
        "Provenance overhead, in process on the same clip (medians of "
        f"{max(3, args.runs)} rounds; encode with and without the luma hook alternated):",
        "",
        "| measure | median |",
        "|---|---|",
        f"| encode without marks (peer) | {overhead['plain']:.3f} s |",
        f"| encode with the invisible video mark in the luma hook | {overhead['hooked']:.3f} s |",
        f"| visible mark + audio mark + watermarker set-up | {overhead['mark']:.3f} s |",
        f"| C2PA signing | {overhead['sign']:.3f} s |",
        f"| **marking and signing, added to encoding** (target ≤ 10 %) | "
        f"**{100 * added / overhead['plain']:.1f} %** |",
    ]
    lines.append(MARK_END)
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
