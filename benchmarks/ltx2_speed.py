"""Speed of the ltx2 engine against the stock diffusers call, side by side in one run.

LTX-2's full-size architecture (transformer 18.9 B, a Gemma-3-12B-shaped text encoder,
connectors, video and audio VAEs, vocoder: 63 GiB in bf16) is built with random weights
directly on the GPU (nothing is downloaded, and writing 63 GiB out to load it back would
take most of a GPU window), then served through `LTX2Engine.adopt`. For each regime, the
calls alternate so that a warming or busy GPU slows them alike, after one warm-up each:

- stock: `LTX2Pipeline.__call__` as diffusers documents it (`output_type="np"`: float32
  frames on the host), with the engine's own sampler arguments, so both do the same
  denoising work;
- engine: `LTX2Engine.generate` (frames cropped and turned into uint8 on the GPU, sound at
  48 kHz);
- pipeline: the whole of `reelforge.pipeline.generate` (policy, engine, transcript of the
  sound, both marks, H.264/AAC encoding, C2PA signing), when this machine has what it
  needs (else the row says what is missing).

Regimes: distilled (8 steps on the distilled schedule, guidance off: one transformer pass a
step) and guidance 4 (LTX-2's full recipe: up to 4 passes a step; `--guided-steps` steps
are run and the 40-step wall is projected from the median step). Reported per call: wall,
median step, peak GPU memory, real-time factor (wall / clip length), whether any output is
NaN. Then one lever at a time on the distilled regime: regional compile
(`transformer.compile_repeated_blocks(fullgraph=True)`, its first call timed apart), and,
under a GPU memory cap (`--offload-cap-gib`, through
`torch.cuda.set_per_process_memory_fraction`), the offload placement.

Targets (issue 20): engine denoising ≤ 1.02x stock's, whole pipeline ≤ 1.10x the stock
call, and with levers ≥ 1.5x faster than stock end to end.

    python3 benchmarks/ltx2_speed.py --out results/ltx2_speed.json   # on a GPU
    .venv/bin/python benchmarks/ltx2_speed.py --tiny                  # the CPU smoke run

`--tiny` runs the same code on the tests' tiny random snapshot on this CPU (a check that
the benchmark works, not a measurement), and never writes docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' tiny snapshot, for --tiny

from benchmark_doc import write_section  # noqa: E402
from reelforge.engines import register  # noqa: E402
from reelforge.engines.ltx2 import LTX2Engine  # noqa: E402
from reelforge.engines.ltx2.placement import Placement  # noqa: E402
from reelforge.engines.ltx2.snapshot import Snapshot  # noqa: E402
from reelforge.settings import Settings  # noqa: E402
from reelforge.types import ScenePlan, parse_size  # noqa: E402

MARK_BEGIN, MARK_END = "<!-- ltx2_speed:begin -->", "<!-- ltx2_speed:end -->"
PROMPT = 'A chef flips a pancake in a busy kitchen and says "order up".'
BENCH_ENGINE = "ltx2-bench"  # the registry name the whole-pipeline rows run under
GIB = 2**30


@dataclass
class Call:
    """One timed call."""

    wall_s: float
    steps_s: list[float]  # each denoising step's time
    peak_gib: float | None  # peak GPU memory during the call (None on the CPU)
    nan: bool  # whether any frame or sample came out NaN
    parts_s: dict[str, float] = field(default_factory=dict)

    @property
    def step_s(self) -> float:
        return statistics.median(self.steps_s) if self.steps_s else math.nan


@dataclass
class Row:
    regime: str
    path: str  # "stock", "engine", "pipeline", or a lever
    calls: list[Call] = field(default_factory=list)
    problem: str | None = None  # why it was not measured
    note: str = ""

    def median(self, name: str) -> float:
        values = [getattr(c, name) for c in self.calls]
        return statistics.median(values) if values else math.nan

    def summary(self, seconds: float, steps_projected: int | None) -> dict[str, Any]:
        wall, step = self.median("wall_s"), self.median("step_s")
        out: dict[str, Any] = {
            "regime": self.regime,
            "path": self.path,
            "wall_s": wall,
            "step_s": step,
            "real_time_factor": wall / seconds,
            "peak_gib": max((c.peak_gib or 0.0 for c in self.calls), default=None),
            "nan": any(c.nan for c in self.calls),
            "problem": self.problem,
            "note": self.note,
            "calls": [asdict(c) for c in self.calls],
        }
        if steps_projected and self.calls:
            steps = len(self.calls[0].steps_s)
            out["projected_wall_s"] = wall + (steps_projected - steps) * step
        return out


# --- building the pipeline ----------------------------------------------------------


def build_full_pipeline(device: str) -> Any:
    """LTX-2's released architecture with random weights, built in bf16 on `device`. The
    video VAE's ratios are stated: its constructor's defaults claim 64x/16x and the
    pipeline would silently make half-size clips. The tokenizer is the tests' in-memory
    one (prompts are padded to the pipeline's fixed length, so its vocabulary does not
    change the work)."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from tests.engines.ltx2.tiny_snapshot import tiny_tokenizer
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    gemma_12b = Gemma3Config(
        text_config=dict(
            vocab_size=262208,
            hidden_size=3840,
            intermediate_size=15360,
            num_hidden_layers=48,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=256,
        ),
        mm_tokens_per_image=256,
    )
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            pipe = LTX2Pipeline(
                scheduler=FlowMatchEulerDiscreteScheduler(),
                vae=AutoencoderKLLTX2Video(
                    spatial_compression_ratio=32, temporal_compression_ratio=8
                ),
                audio_vae=AutoencoderKLLTX2Audio(),
                text_encoder=Gemma3ForConditionalGeneration(gemma_12b),
                tokenizer=tiny_tokenizer(),
                connectors=LTX2TextConnectors(),
                transformer=LTX2VideoTransformer3DModel(),
                vocoder=LTX2Vocoder(),
            )
    finally:
        torch.set_default_dtype(default_dtype)
    return pipe


def build_tiny_pipeline() -> Any:
    from tests.engines.ltx2.tiny_snapshot import build_tiny_pipeline as tiny

    return tiny()


def parameters(pipe: Any) -> int:
    return sum(
        p.numel()
        for module in pipe.components.values()
        if isinstance(module, torch.nn.Module)
        for p in module.parameters()
    )


def adopt(pipe: Any, *, kind: str, steps: int, guidance: float, placement: Placement) -> Any:
    """An engine serving `pipe` with this recipe (a distilled or full checkpoint's)."""
    snapshot = Snapshot(
        path=Path(f"random-{kind}"),
        pipeline_class="LTX2Pipeline",
        kind=kind,  # type: ignore[arg-type]
        revision=f"random {kind}",
        config_sha256="0" * 12,
        parameters=parameters(pipe),
    )
    engine = LTX2Engine(Settings(ltx2_steps=steps, ltx2_guidance=guidance))
    engine.adopt(pipe, snapshot, placement)
    return engine


# --- the three paths ------------------------------------------------------------------


def _measured(run: Callable[[Callable[[], None]], tuple[bool, dict[str, float]]]) -> Call:
    """Time `run(step_ended)`: wall, the steps between step_ended calls, peak memory."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    ends: list[float] = []
    started = time.perf_counter()
    nan, parts = run(lambda: ends.append(time.perf_counter()))
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    # The first step's time includes the prompt's encoding: steps are the gaps after it.
    steps = [b - a for a, b in itertools.pairwise(ends)]
    peak = torch.cuda.max_memory_allocated() / GIB if cuda else None
    return Call(wall, steps, peak, nan, parts)


def stock_call(engine: Any, width: int, height: int, frames: int, fps: int) -> Call:
    """diffusers' own call on the engine's pipeline and sampler arguments, at the sizes
    LTX-2 takes (multiples of 32, 8k+1 frames): float32 numpy frames on the host."""
    loaded = engine.load()
    multiple = 32
    arguments = {
        "prompt": PROMPT,
        "width": multiple * math.ceil(width / multiple),
        "height": multiple * math.ceil(height / multiple),
        "num_frames": 8 * math.ceil((frames - 1) / 8) + 1,
        "frame_rate": float(fps),
        **loaded.recipe.call_arguments(),
    }

    def run(step_ended: Callable[[], None]) -> tuple[bool, dict[str, float]]:
        def on_step_end(_pipe: Any, _i: int, _t: Any, _tensors: dict[str, Any]) -> dict:
            step_ended()
            return {}

        output = loaded.text_to_video(
            **arguments,
            generator=torch.Generator("cpu").manual_seed(0),
            output_type="np",
            callback_on_step_end=on_step_end,
        )
        video, audio = np.asarray(output.frames), output.audio[0].float().cpu().numpy()
        return bool(np.isnan(video).any() or np.isnan(audio).any()), {}

    return _measured(run)


def engine_call(engine: Any, size: str, seconds: float, fps: int) -> Call:
    plan = ScenePlan(prompt=PROMPT)

    def run(step_ended: Callable[[], None]) -> tuple[bool, dict[str, float]]:
        def progress(stage: str, _fraction: float) -> None:
            if stage == "denoise":
                step_ended()

        clip = engine.generate(plan, seconds=seconds, size=size, fps=fps, seed=0, progress=progress)
        return bool(np.isnan(clip.audio).any()), dict(clip.timings_s)

    return _measured(run)


def pipeline_call(size: str, seconds: float, fps: int, settings: Settings) -> Call:
    """The whole reelforge pipeline on the engine registered as BENCH_ENGINE."""
    from reelforge.pipeline import generate
    from reelforge.types import Request

    request = Request(PROMPT, seconds=seconds, size=size, fps=fps, seed=0, engine=BENCH_ENGINE)

    def run(step_ended: Callable[[], None]) -> tuple[bool, dict[str, float]]:
        def progress(stage: str, _fraction: float) -> None:
            if stage == "denoise":
                step_ended()

        with tempfile.TemporaryDirectory() as out:
            result = generate(request, Path(out) / "clip.mp4", settings=settings, progress=progress)
            assert result.video_path.stat().st_size > 0
        return False, {k: v for k, v in result.timings_s.items() if isinstance(v, float)}

    return _measured(run)


def pipeline_problem() -> str | None:
    """What this machine lacks for the whole pipeline (marks, encoding, signing), if
    anything: a GPU image without reelforge's media packages measures the rest."""
    try:
        import av  # noqa: F401
        import c2pa  # noqa: F401

        from reelforge.provenance import mark  # noqa: F401
    except ImportError as error:
        return f"not measured: {error}"
    return None


# --- the run ------------------------------------------------------------------------


def alternate(rows: list[Row], calls: list[Callable[[], Call]], rounds: int) -> None:
    """Warm each path up once, then `rounds` rounds, the order flipped every round."""
    for call in calls:
        call()
    for i in range(rounds):
        order = list(zip(rows, calls, strict=True))
        for row, call in order if i % 2 == 0 else order[::-1]:
            row.calls.append(call())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny snapshot, on CPU")
    parser.add_argument("--size", default=None, help="WxH (default 1280x720; tiny 448x256)")
    parser.add_argument("--seconds", type=float, default=None, help="default 5 (tiny 1)")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--guided-steps", type=int, default=None, help="default 8 (tiny 2)")
    parser.add_argument("--offload-cap-gib", type=float, default=40.0, help="0: skip")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    parser.add_argument("--no-write", action="store_true", help="leave docs/ alone")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    if not (cuda or args.tiny):
        print("ltx2_speed: no CUDA GPU here; --tiny runs the CPU smoke run", file=sys.stderr)
        return 2
    size = args.size or ("448x256" if args.tiny else "1280x720")
    seconds = args.seconds or (1.0 if args.tiny else 5.0)
    guided_steps = args.guided_steps or (2 if args.tiny else 8)
    width, height = parse_size(size)
    frames = round(seconds * args.fps)
    device = "cuda" if cuda else "cpu"
    placement = Placement(device, "bfloat16" if cuda else "float32", offload=False)

    started = time.perf_counter()
    pipe = build_tiny_pipeline() if args.tiny else build_full_pipeline(device)
    built_s = time.perf_counter() - started
    print(f"built {parameters(pipe) / 1e9:.3g} B parameters on {device} in {built_s:.1f} s")
    distilled = adopt(pipe, kind="distilled", steps=8, guidance=1.0, placement=placement)
    guided = adopt(pipe, kind="full", steps=guided_steps, guidance=4.0, placement=placement)

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="ltx2-speed-")))
    current = {"engine": distilled}
    register(BENCH_ENGINE, lambda _settings: current["engine"])
    problem = pipeline_problem()

    rows: list[Row] = []
    for regime, engine in (("distilled", distilled), ("guidance 4", guided)):
        current["engine"] = engine
        paths = [Row(regime, "stock"), Row(regime, "engine")]
        calls: list[Callable[[], Call]] = [
            partial(stock_call, engine, width, height, frames, args.fps),
            partial(engine_call, engine, size, seconds, args.fps),
        ]
        if problem is None:
            paths.append(Row(regime, "pipeline"))
            calls.append(partial(pipeline_call, size, seconds, args.fps, settings))
        else:
            rows.append(Row(regime, "pipeline", problem=problem))
        alternate(paths, calls, args.rounds)
        rows.extend(paths)
        print(f"{regime}: " + ", ".join(f"{r.path} {r.median('wall_s'):.2f} s" for r in paths))

    current["engine"] = distilled
    if cuda and args.offload_cap_gib > 0:
        rows.append(offload_row(pipe, args, size, seconds, placement))
    if not args.no_compile:
        rows.append(compile_row(pipe, distilled, size, seconds, args))

    results = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "tiny": args.tiny,
        "size": size,
        "seconds": seconds,
        "fps": args.fps,
        "parameters": parameters(pipe),
        "built_s": built_s,
        "rows": [r.summary(seconds, 40 if r.regime == "guidance 4" else None) for r in rows],
        "ratios": ratios(rows),
        "not_built": [
            "frames decoded to uint8 inside the VAE's last layer",
            "encoding overlapped with decoding",
            "cached text states",
            "FP8 weights",
        ],
    }
    table = render(results)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    if not (args.tiny or args.no_write):
        write_section(MARK_BEGIN, MARK_END, table)
    return 0


def offload_row(pipe: Any, args: Any, size: str, seconds: float, placement: Placement) -> Row:
    """The offload placement under a memory cap, one call; the pipeline goes back onto the
    GPU afterwards for the levers that follow."""
    row = Row("distilled", f"offload, {args.offload_cap_gib:g} GiB cap")
    total = torch.cuda.get_device_properties(0).total_memory
    try:
        pipe.to("cpu")
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.offload_cap_gib * GIB / total))
        offloaded = adopt(
            pipe,
            kind="distilled",
            steps=8,
            guidance=1.0,
            placement=Placement("cuda", "bfloat16", offload=True),
        )
        row.calls.append(engine_call(offloaded, size, seconds, args.fps))
    except (RuntimeError, torch.cuda.OutOfMemoryError) as error:
        row.problem = f"failed: {type(error).__name__}: {str(error)[:300]}"
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        if hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()
        pipe.to(placement.device)
        pipe.vocoder.to(torch.float32)
        pipe.audio_vae.to(torch.float32)
    return row


def compile_row(pipe: Any, engine: Any, size: str, seconds: float, args: Any) -> Row:
    """Regional compile of the transformer's blocks. A failure is a row that says so:
    the run's other numbers are written all the same."""
    row = Row("distilled", "engine, regional compile")
    started = time.perf_counter()
    try:
        pipe.transformer.compile_repeated_blocks(fullgraph=True)
        engine_call(engine, size, seconds, args.fps)  # compiles
        row.note = f"first call (compiling) {time.perf_counter() - started:.1f} s"
        for _ in range(args.rounds):
            row.calls.append(engine_call(engine, size, seconds, args.fps))
    except Exception as error:  # torch.compile raises many kinds; all end this lever
        row.problem = f"failed: {type(error).__name__}: {str(error)[:300]}"
    return row


def ratios(rows: list[Row]) -> dict[str, float]:
    def wall(regime: str, path: str, name: str = "wall_s") -> float:
        found = [r for r in rows if (r.regime, r.path) == (regime, path) and r.calls]
        return found[0].median(name) if found else math.nan

    out = {}
    for regime in ("distilled", "guidance 4"):
        stock = wall(regime, "stock")
        out[f"{regime}: engine step / stock step"] = wall(regime, "engine", "step_s") / wall(
            regime, "stock", "step_s"
        )
        out[f"{regime}: engine / stock"] = wall(regime, "engine") / stock
        out[f"{regime}: pipeline / stock"] = wall(regime, "pipeline") / stock
    out["distilled: stock / compiled engine"] = wall("distilled", "stock") / wall(
        "distilled", "engine, regional compile"
    )
    return out


def render(results: dict[str, Any]) -> str:
    lines = [
        MARK_BEGIN,
        f"### ltx2: the engine against the stock diffusers call ({results['device']})",
        "",
        f"`benchmarks/ltx2_speed.py`: {results['parameters'] / 1e9:.3g} B parameters "
        f"(random weights), {results['size']}, {results['seconds']:g} s at "
        f"{results['fps']} fps; medians of alternating calls after one warm-up each.",
        "",
        "| regime | path | wall s | s / step | real-time factor | peak GiB | NaN |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        if row["problem"]:
            lines.append(f"| {row['regime']} | {row['path']} | {row['problem']} | | | | |")
            continue
        peak = f"{row['peak_gib']:.1f}" if row["peak_gib"] else ""
        wall = f"{row['wall_s']:.2f}"
        if "projected_wall_s" in row:
            wall += f" (40 steps: {row['projected_wall_s']:.1f})"
        lines.append(
            f"| {row['regime']} | {row['path']} | {wall} | {row['step_s']:.3f} | "
            f"{row['real_time_factor']:.2f} | {peak} | {'yes' if row['nan'] else 'no'} |"
        )
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in results["ratios"].items()]
    lines += ["", "Levers not built yet: " + "; ".join(results["not_built"]) + ".", MARK_END]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
