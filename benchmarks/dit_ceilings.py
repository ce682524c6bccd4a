"""What each candidate representation of the dit leaves of the sim's clips: the best a perfect
transformer could score through it (issue 23's ceiling table), with the eval's own judge.

Each prompt's sim clip is made once; every representation is applied to its frames and
sound, the result encoded as an MP4 and judged like any eval clip (`evaluate_clip`): prompt
faithfulness, AV sync (onset error and event F1 against the visual contacts), and the free
flights the physics check tracks. Representations:

    sim               the clip itself (the ceiling of every ceiling)
    pixels WxH        frames shrunk to WxH (area) and back (cubic): pixel space at that
                      native size, no learned codec; sound untouched (64x112 in 8x8-pixel,
                      4-frame patches is the 1,456 tokens per 2 s the dit has today)
    dit codecs        `DitEngine.represent`: 256x448, the shipped video VAE and audio codec
    dit video VAE     the same, sound untouched
    dit audio codec   the same, frames untouched

    .venv/bin/python benchmarks/dit_ceilings.py [--prompts N] [--seconds 4] [--no-write]

Writes benchmarks/results/dit_ceilings.json and the marked section of docs/DIT.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmark_doc import write_section
from reelforge.engines.dit.engine import DitEngine
from reelforge.eval.metrics import evaluate_clip
from reelforge.eval.reader import Reading, read_clip
from reelforge.eval.runner import expected_of
from reelforge.eval.suite import load_suite
from reelforge.media import encode_mp4
from reelforge.pipeline import generate
from reelforge.settings import load_settings
from reelforge.types import Request

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "docs" / "eval" / "dit-cpu" / "suite.jsonl"  # every 22nd core prompt, 13
RESULTS = ROOT / "benchmarks" / "results" / "dit_ceilings.json"
DOC = ROOT / "docs" / "DIT.md"
BEGIN, END = "<!-- dit ceilings: begin -->", "<!-- dit ceilings: end -->"
SIZE, FPS = "720x1280", 24

Sound = np.ndarray
Representation = Callable[[np.ndarray, Sound, int], tuple[np.ndarray, Sound]]


def pixels(height: int, width: int) -> Representation:
    """Frames shrunk to `height` x `width` (portrait) and back; sound untouched."""

    def represent(frames: np.ndarray, audio: Sound, _rate: int) -> tuple[np.ndarray, Sound]:
        full_h, full_w = frames.shape[1:3]
        small = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
        back = [cv2.resize(f, (full_w, full_h), interpolation=cv2.INTER_CUBIC) for f in small]
        return np.stack(back), audio

    return represent


def representations(clip: Reading, dit: DitEngine) -> Iterator[tuple[str, np.ndarray, Sound]]:
    """Every representation of one clip, one at a time: (name, frames, sound). The dit's
    video VAE and audio codec each run once; its three rows combine the two results."""
    frames, audio, rate = clip.frames, clip.audio, clip.sample_rate
    yield "sim", frames, audio
    for width, height in ((256, 448), (128, 224), (64, 112), (32, 56)):
        yield f"pixels {width}x{height}", *pixels(height, width)(frames, audio, rate)
    dit_video, dit_audio = dit.represent_video(frames), dit.represent_audio(audio, rate)
    yield "dit codecs", dit_video, dit_audio
    yield "dit video VAE", dit_video, audio
    yield "dit audio codec", frames, dit_audio


def judge(path: Path, prompt: Any) -> dict[str, Any]:
    metrics = evaluate_clip(path, expected_of(prompt))
    return {
        "faithfulness": metrics.faithfulness["score"],
        "av_median_ms": metrics.av_sync.get("median_abs_ms"),
        "av_f1": metrics.av_sync.get("f1"),
        "av_precision": metrics.av_sync.get("precision"),
        "flights": int(metrics.physics["flight_segments"]),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def values(key: str) -> list[float]:
        return [float(r[key]) for r in rows if r[key] is not None]

    def median(key: str) -> float | None:
        found = values(key)
        return round(statistics.median(found), 1) if found else None

    def mean(key: str) -> float | None:
        found = values(key)
        return round(statistics.fmean(found), 3) if found else None

    return {
        "clips": len(rows),
        "faithfulness": mean("faithfulness"),
        "av_median_ms": median("av_median_ms"),
        "av_f1": mean("av_f1"),
        "av_precision": mean("av_precision"),
        "clips_with_av": len(values("av_f1")),
        "flights": sum(int(r["flights"]) for r in rows),
    }


def doc_section(table: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    def cell(value: Any, unit: str = "") -> str:
        return "n/a" if value is None else f"{value}{unit}"

    lines = [
        BEGIN,
        f"`benchmarks/dit_ceilings.py --prompts {args.prompts} --seconds {args.seconds:g}`: "
        f"the sim's clips of the first {args.prompts} prompts of `docs/eval/dit-cpu/suite.jsonl` "
        f"at {SIZE}, {FPS} fps, through each representation and judged by the eval "
        "(`evaluate_clip`). Faithfulness is the mean over clips; AV sync the median of "
        "each clip's median onset error and the mean event F1 and onset precision over "
        "the clips where the judge found contacts; flights in all.",
        "",
        "| representation | faithfulness | AV median | AV F1 | AV precision "
        "| clips with contacts | flights tracked |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in table.items():
        lines.append(
            f"| {name} | {cell(row['faithfulness'])} | {cell(row['av_median_ms'], ' ms')} "
            f"| {cell(row['av_f1'])} | {cell(row['av_precision'])} | {row['clips_with_av']} "
            f"| {row['flights']} |"
        )
    return "\n".join([*lines, END])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=13)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.prompts <= 13:
        parser.error("--prompts must be between 1 and 13")

    prompts = load_suite(SUITE)[: args.prompts]
    dit = DitEngine(load_settings())
    rows: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dit-ceilings-") as tmp:
        settings = load_settings().model_copy(
            update={"data_dir": Path(tmp) / "data", "visible_watermark": False}
        )
        for index, prompt in enumerate(prompts):
            source = Path(tmp) / f"{prompt.id}.mp4"
            request = Request(
                prompt=prompt.prompt, seconds=args.seconds, size=SIZE, fps=FPS, seed=index
            )
            generate(request, source, settings=settings)
            clip = read_clip(source, scale=1)
            for name, frames, audio in representations(clip, dit):
                path = Path(tmp) / "represented.mp4"
                encode_mp4(path, frames, audio, FPS, clip.sample_rate)
                rows.setdefault(name, []).append({"prompt": prompt.id, **judge(path, prompt)})
            print(
                f"{index + 1}/{len(prompts)} {prompt.id} ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    table = {name: summarise(found) for name, found in rows.items()}
    section = doc_section(table, args)
    print(section)
    if not args.no_write:
        RESULTS.write_text(json.dumps({"table": table, "rows": rows}, indent=1) + "\n")
        write_section(BEGIN, END, section, doc=DOC)


if __name__ == "__main__":
    main()
