"""End-to-end `reelforge generate` of 10 s 720x1280 24 fps clips with audio: a scene with
dialogue, and a busy one (7 moving things from the asset library, 2 characters, a guitar).

Reports the real-time factor (wall time / clip length) of the whole command, the split
between its stages (from the sidecar's timings), its peak resident memory (the child's
own rusage), and, as a peer measured in the same run, ffmpeg's own time to transcode the
same clip with libx264 at the same preset: a ratio that stays meaningful on a faster or
slower machine. For the record, each scene is also generated with the frames held as one
array before encoding, as the pipeline did before it streamed them (same code, the sim's
FrameSource materialised as soon as the engine returns it). Medians over --runs runs go
to docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/generate_sim.py [--runs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark_doc import write_section

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 10.0
SIZE = "720x1280"


@dataclass(frozen=True)
class Scene:
    title: str
    prompt: str


DIALOGUE = Scene(
    "with dialogue",
    "Three red rubber balls and a blue wooden crate fall onto the floor of a kitchen. "
    'A woman in a green shirt says "Look out below!" and a man replies "Nice catch."',
)
BUSY = Scene(
    "busy scene: moving things from the asset library, 2 characters, music",
    "A dog chases a cat across the park while two birds fly overhead, a car drives past, "
    'a horse gallops and a frog hops. A girl plays the guitar and a boy says "Look at '
    'them go!"',
)
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
# Behaviours that keep a thing in place; every other one moves it across the frame.
STILL = ("idle", "sit", "play", "sway", "gesture", "float")
MARK_BEGIN = "<!-- generate_sim:begin -->"
MARK_END = "<!-- generate_sim:end -->"
# `reelforge generate` with the sim's frames turned into one (T, H, W, 3) array as soon as
# the engine returns them: the visible mark is then drawn on the array and the encoder
# reads it, the path before frames were streamed.
HELD = """
import sys
import numpy as np
from reelforge import cli
from reelforge.engines.sim import SimEngine

streamed = SimEngine.generate

def held(self, *args, **kwargs):
    clip = streamed(self, *args, **kwargs)
    clip.frames = np.asarray(clip.frames)
    return clip

SimEngine.generate = held
sys.exit(cli.main(sys.argv[1:]))
"""


@dataclass
class Run:
    wall_s: float
    peak_rss_mib: float
    timings: dict[str, float]
    sidecar: dict


def run_once(scene: Scene, out_dir: Path, seed: int, *, held: bool = False) -> Run:
    out = out_dir / f"bench-{seed}.mp4"
    arguments = [
        "generate",
        scene.prompt,
        "-q",
        "-o",
        str(out),
        "--seconds",
        str(SECONDS),
        "--size",
        SIZE,
        "--fps",
        "24",
        "--seed",
        str(seed),
    ]
    command = (
        [sys.executable, "-c", HELD, *arguments]
        if held
        else [str(ROOT / ".venv/bin/reelforge"), *arguments]
    )
    wall, peak = run_measured(command)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    return Run(wall, peak, sidecar["timings_s"], sidecar)


def run_measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one child process, from its own rusage."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise subprocess.CalledProcessError(child.returncode, command)
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def check_busy(sidecar: dict) -> str:
    """What the busy scene drew, checked against what it is meant to hold."""
    plan = sidecar["plan"]
    movers = [t for t in plan["things"] if t["behaviour"] not in STILL]
    moving = sum(t["count"] for t in movers)
    characters = len(plan["characters"])
    notes = sum(1 for e in sidecar["events"]["sounds"] if e["sound"].startswith("note:"))
    if moving < 6 or characters != 2 or notes == 0:
        raise SystemExit(
            f"the busy scene drew {moving} moving things, {characters} characters and "
            f"{notes} notes; it needs ≥ 6, 2 and some"
        )
    names = ", ".join(
        f"{t['label'] or t['noun']}{' ×' + str(t['count']) if t['count'] > 1 else ''} "
        f"({t['behaviour']})"
        for t in movers
    )
    return (
        f"{moving} moving things ({names}), {characters} characters, {notes} played notes, "
        f"{len(sidecar['events']['sounds'])} sound events in all"
    )


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
    signing. Medians of `repeats` rounds. The frames are held as an array here, drawn
    once beforehand, so the encodes time the encoder and not the renderer."""
    from reelforge.engines.sim import SimEngine
    from reelforge.media import encode_mp4
    from reelforge.provenance.identity import load_identity
    from reelforge.provenance.manifest import ManifestFacts, sign_mp4
    from reelforge.provenance.mark import mark_clip
    from reelforge.recaption import recaption
    from reelforge.settings import Settings

    settings = Settings(data_dir=out_dir / "data")
    identity = load_identity(settings)
    plan, _ = recaption(DIALOGUE.prompt, 7, settings)
    clip = SimEngine(settings).generate(plan, seconds=SECONDS, size=SIZE, fps=24, seed=7)
    frames = np.asarray(clip.frames)
    times: dict[str, list[float]] = {"plain": [], "hooked": [], "mark": [], "sign": []}
    for round_ in range(repeats):
        fresh = dataclasses.replace(clip, frames=frames.copy())
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


@dataclass
class Measured:
    scene: Scene
    walls: list[float]
    peaks: list[float]
    peers: list[float]
    stages: dict[str, list[float]]
    held_walls: list[float]
    held_peaks: list[float]
    drew: str = ""
    others_cpu: float = 0.0  # share of the machine's cores other processes used meanwhile


def measure(scene: Scene, out_dir: Path, runs: int) -> Measured:
    measured = Measured(scene, [], [], [], {k: [] for k in STAGES}, [], [])
    busy, ours, started = machine_cpu_s(), own_cpu_s(), time.perf_counter()
    for run in range(runs):
        seed = 100 + run
        streamed = run_once(scene, out_dir, seed)
        if scene is BUSY:
            measured.drew = check_busy(streamed.sidecar)
        measured.walls.append(streamed.wall_s)
        measured.peaks.append(streamed.peak_rss_mib)
        for key in STAGES:
            measured.stages[key].append(streamed.timings.get(key, 0.0))
        measured.peers.append(ffmpeg_transcode(out_dir / f"bench-{seed}.mp4", out_dir))
        held = run_once(scene, out_dir, seed, held=True)
        measured.held_walls.append(held.wall_s)
        measured.held_peaks.append(held.peak_rss_mib)
        print(
            f"{scene.title}, run {run + 1}: wall {streamed.wall_s:.2f} s, "
            f"RTF {streamed.wall_s / SECONDS:.3f}, peak RSS {streamed.peak_rss_mib:.0f} MiB "
            f"(held: {held.wall_s:.2f} s, {held.peak_rss_mib:.0f} MiB), "
            f"peer transcode {measured.peers[-1]:.2f} s",
            file=sys.stderr,
        )
    others = (machine_cpu_s() - busy) - (own_cpu_s() - ours)
    # The two clocks are read at slightly different moments: a small negative is none.
    measured.others_cpu = max(
        0.0, others / ((os.cpu_count() or 1) * (time.perf_counter() - started))
    )
    return measured


def machine_cpu_s() -> float:
    """CPU seconds every process on the machine has used since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds this process and the children it waited for have used."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def scene_table(measured: Measured, runs: int) -> list[str]:
    wall = statistics.median(measured.walls)
    peer = statistics.median(measured.peers)
    lines = [
        f"### `reelforge generate`, sim engine, 10 s 720x1280 24 fps {measured.scene.title}",
        "",
        f"`benchmarks/generate_sim.py --runs {runs}`; medians; 2-core CPU.",
    ]
    if measured.drew:
        lines += ["", f"Prompt: “{measured.scene.prompt}”; drew {measured.drew}."]
    lines += [
        "",
        "| measure | median |",
        "|---|---|",
        f"| wall time of the whole command | {wall:.2f} s |",
        f"| **real-time factor** (wall / 10 s; target ≤ 0.5) | **{wall / SECONDS:.3f}** |",
        f"| real-time factor of the fastest run (the least disturbed on a shared machine) | "
        f"{min(measured.walls) / SECONDS:.3f} |",
        f"| peer: ffmpeg transcoding the same clip (libx264 veryfast + AAC) | {peer:.2f} s |",
        f"| ratio: our whole generation / ffmpeg transcode | {wall / peer:.2f} |",
    ]
    for key in STAGES:
        lines.append(f"| stage `{key}` | {statistics.median(measured.stages[key]):.3f} s |")
    stage_sums = [sum(v) for v in zip(*measured.stages.values(), strict=True)]
    startup = wall - statistics.median(stage_sums)
    lines += [
        f"| process start-up, imports, policy models, registry, sidecar (the rest) | "
        f"{startup:.3f} s |",
        f"| **peak resident memory of the process** (frames streamed to the encoder) | "
        f"**{statistics.median(measured.peaks):.0f} MiB** |",
        f"| for the record: peak memory with the frames held as one array (before) | "
        f"{statistics.median(measured.held_peaks):.0f} MiB |",
        f"| for the record: wall time with the frames held as one array (before) | "
        f"{statistics.median(measured.held_walls):.2f} s |",
        f"| CPU taken by other processes meanwhile (share of all cores; noise) | "
        f"{100 * measured.others_cpu:.0f} % |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        busy = measure(BUSY, out_dir, args.runs)  # the target first, while it is quiet
        scenes = [measure(DIALOGUE, out_dir, args.runs), busy]
        overhead = provenance_overhead(out_dir, repeats=max(3, args.runs))
    added = overhead["mark"] + (overhead["hooked"] - overhead["plain"]) + overhead["sign"]
    lines = [MARK_BEGIN]
    for measured in scenes:
        lines += [*scene_table(measured, args.runs), ""]
    lines += [
        "Provenance overhead, in process on the dialogue clip held as an array (medians of "
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
        MARK_END,
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
