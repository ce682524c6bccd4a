"""Speed of the dit engine's joint audio-video transformer, against LTX-2's.

Training: forward + backward (loss = mean of the outputs, no optimiser step) of our
`JointDiT` and, as the peer in the same run, diffusers' `LTX2VideoTransformer3DModel`
(LTX-2's joint audio-video transformer, random init from a config; nothing is
downloaded) at the same width, depth, heads, text width and token counts: video latents
(B, Cv, N, h, w) cut into 1×p×p patches, audio latents (B, Ca, M) into runs of
`audio_patch`, L text tokens of all-MiniLM-L6-v2 states (a quarter of them padding). The
peer gets the same latents packed into the same tokens (as the LTX-2 pipeline packs them,
outside its model) and the same text states for both of its streams. The steps of the two
models alternate and their order flips every round, so a busy machine slows both alike;
the table gives medians and the ratio ours / peer of tokens per second (video + audio
tokens; text is conditioning), as the median of the per-round ratios. One sampling step
(a forward pass of the caption and the empty caption together, as the sampler batches
classifier-free guidance) is compared the same way. FLOPs per step:
torch.utils.flop_counter.FlopCounterMode.

Sampling: a 4 s 256x448 clip through the engine (`get_engine("dit", load_settings())`;
target ≤ 60 s on this CPU): wall time and its split into text encoding, denoising steps
and decoding (video VAE, audio codec, resampling). Until weights/dit ships, the engine
runs a random init of the `cpu` preset (same speed, noise for pictures).

On a GPU (CUDA), in bfloat16 autocast: training and sampling steps of ours and the peer
at `--cuda-config`, model FLOPs utilisation against the H200's dense bf16 peak
(989 TFLOP/s), the denoising loop of 4 s and 10 s clips on the GPU (real-time factor),
and the engine itself on 4 s and 10 s clips (noting whether it used the GPU). On a CPU
those lines say they were skipped.

    .venv/bin/python benchmarks/dit_speed.py --out out/dit_speed.json [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from benchmark_doc import write_section
from reelforge.engines.dit.checkpoint import save_pretrained
from reelforge.engines.dit.codecs import WEIGHTS_DIR
from reelforge.engines.dit.config import PRESETS, DiTConfig, FlowConfig, RunConfig
from reelforge.engines.dit.flow import Conditioning, Guidance, sample
from reelforge.engines.dit.model import JointDiT, patchify_audio, patchify_video
from reelforge.settings import Settings, load_settings

MARK_BEGIN, MARK_END = "<!-- dit_speed:begin -->", "<!-- dit_speed:end -->"
H200_BF16_PEAK_FLOPS = 989e12  # dense, no sparsity
SAMPLING_PROMPT = "A red ball bounces twice on a wooden floor, then rolls to a stop."

Batch = dict[str, torch.Tensor]
Forward = Callable[[Batch], tuple[torch.Tensor, torch.Tensor]]


# ---------------------------------------------------------------------------------------
# 1. Workloads: clips as latents and tokens


@dataclass(frozen=True)
class Workload:
    """`batch` clips of `seconds` at `size`: latent shapes and token counts per clip."""

    seconds: float
    size: str  # "WxH"
    fps: int
    batch: int
    latent_frames: int  # N
    latent_height: int  # h
    latent_width: int  # w
    audio_latents: int  # M
    text_tokens: int  # L
    video_tokens: int  # N·(h/p)·(w/p)
    audio_tokens: int  # ⌈M / audio_patch⌉

    @property
    def tokens(self) -> int:
        """Video and audio tokens of the whole batch: what the model denoises."""
        return self.batch * (self.video_tokens + self.audio_tokens)


def clip_workload(run: RunConfig, seconds: float, size: str, fps: int, batch: int) -> Workload:
    """Latent shapes as the engine computes them for a clip of `seconds` at `fps`."""
    cfg, compression = run.dit, run.video.spatial_compression
    width, height = (int(part) for part in size.split("x"))
    p = cfg.video_patch
    if height % (compression * p) or width % (compression * p):
        raise ValueError(f"size {size} must divide into {compression * p}-pixel patches")
    frames = max(1, round(seconds * fps))
    latent_frames = 1 + math.ceil((frames - 1) / cfg.frames_per_latent)
    audio_latents = math.ceil(frames / fps * cfg.audio_latents_per_second)
    h, w = height // compression, width // compression
    return Workload(
        seconds=seconds,
        size=size,
        fps=fps,
        batch=batch,
        latent_frames=latent_frames,
        latent_height=h,
        latent_width=w,
        audio_latents=audio_latents,
        text_tokens=cfg.max_text_tokens,
        video_tokens=latent_frames * (h // p) * (w // p),
        audio_tokens=math.ceil(audio_latents / cfg.audio_patch),  # a ragged end is padded
    )


def random_batch(cfg: DiTConfig, work: Workload, device: torch.device, seed: int = 0) -> Batch:
    """Noisy latents, timesteps and text states; a quarter of the text is padding, so both
    models take their masked-attention path, as for any real caption."""
    g = torch.Generator().manual_seed(seed)
    b, length = work.batch, work.text_tokens
    video_shape = (b, cfg.video_channels, work.latent_frames, work.latent_height, work.latent_width)
    text_mask = torch.ones(b, length, dtype=torch.bool)
    text_mask[:, length - length // 4 :] = False
    batch = {
        "video": torch.randn(video_shape, generator=g),  # (B, Cv, N, h, w)
        "audio": torch.randn(b, cfg.audio_channels, work.audio_latents, generator=g),  # (B, Ca, M)
        "t": torch.rand(b, generator=g),  # (B,) in [0, 1]
        "text": torch.randn(b, length, cfg.text_dim, generator=g),  # (B, L, text_dim)
        "text_mask": text_mask,  # (B, L)
    }
    return {name: value.to(device) for name, value in batch.items()}


# ---------------------------------------------------------------------------------------
# 2. The two models


@dataclass
class Contender:
    name: str
    model: nn.Module
    forward: Forward  # batch → (video output, audio output)


def build_ours(cfg: DiTConfig, device: torch.device) -> Contender:
    model = JointDiT(cfg).to(device)

    def forward(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        cond = Conditioning(batch["text"], batch["text_mask"])
        return model(batch["video"], batch["audio"], batch["t"], cond)

    return Contender("ours", model, forward)


def build_peer(run: RunConfig, work: Workload, device: torch.device) -> Contender:
    """LTX-2's transformer at our width, depth, heads and text width, for our tokens.

    Both of its streams (video and audio) get our width and heads; its two caption
    projections take our text states. The LTX-2 pipeline packs latents into tokens before
    the model (its own patch size is 1), so our patches go in as its channels: Cv·p·p per
    video token, Ca·audio_patch per audio token. Its MLPs are 4× wide, like ours at
    mlp_ratio 4.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # built from a config: never download
    from diffusers import LTX2VideoTransformer3DModel  # import here: slow, and only the peer

    cfg = run.dit
    video_in = cfg.video_channels * cfg.video_patch**2
    audio_in = cfg.audio_channels * cfg.audio_patch
    pixels_per_token = run.video.spatial_compression * cfg.video_patch
    # cast: mypy does not see diffusers' ModelMixin as the nn.Module it is
    model = cast(
        nn.Module,
        LTX2VideoTransformer3DModel(
            in_channels=video_in,
            out_channels=video_in,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=cfg.heads,
            attention_head_dim=cfg.head_dim,
            cross_attention_dim=cfg.width,
            vae_scale_factors=(cfg.frames_per_latent, pixels_per_token, pixels_per_token),
            audio_in_channels=audio_in,
            audio_out_channels=audio_in,
            audio_num_attention_heads=cfg.heads,
            audio_attention_head_dim=cfg.head_dim,
            audio_cross_attention_dim=cfg.width,
            num_layers=cfg.depth,
            caption_channels=cfg.text_dim,
        ),
    )
    model.to(device)
    # The token grid: latent frames × patch rows × patch columns.
    frames, rows, cols = (
        work.latent_frames,
        work.latent_height // cfg.video_patch,
        work.latent_width // cfg.video_patch,
    )

    def forward(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        video = patchify_video(batch["video"], cfg.video_patch)  # (B, N·h/p·w/p, Cv·p·p)
        audio = patchify_audio(batch["audio"], cfg.audio_patch)  # (B, ⌈M/pa⌉, Ca·pa)
        text, mask = batch["text"], batch["text_mask"]
        return model(
            hidden_states=video,
            audio_hidden_states=audio,
            encoder_hidden_states=text,
            audio_encoder_hidden_states=text,
            timestep=1000 * batch["t"],  # LTX-2 embeds t·1000, as its pipeline passes it
            encoder_attention_mask=mask,
            audio_encoder_attention_mask=mask,
            num_frames=frames,
            height=rows,
            width=cols,
            fps=float(work.fps),
            audio_num_frames=audio.shape[1],
            return_dict=False,
        )

    return Contender("peer", model, forward)


# ---------------------------------------------------------------------------------------
# 3. Timing and counting


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def make_step(
    contender: Contender, batch: Batch, backward: bool, autocast: torch.dtype | None
) -> Callable[[], None]:
    """One training step (forward, mean of the outputs, backward) or one forward pass."""
    device_type = batch["video"].device.type

    def step() -> None:
        contender.model.zero_grad(set_to_none=True)
        with (
            torch.autocast(device_type, dtype=autocast or torch.bfloat16, enabled=bool(autocast)),
            torch.set_grad_enabled(backward),
        ):
            video, audio = contender.forward(batch)
            loss = video.float().mean() + audio.float().mean()
        if backward:
            loss.backward()

    return step


# FlopCounterMode knows the CUDA attention kernels but not the CPU one, which
# scaled_dot_product_attention picks on a CPU (with or without a mask): count it the
# same way. FlopCounterMode hands these the shapes of the tensor arguments.
Shape = tuple[int, ...]


def cpu_attention_flops(query: Shape, key: Shape, value: Shape, *args: Any, **kwargs: Any) -> int:
    return int(flop_counter.sdpa_flop_count(query, key, value))


def cpu_attention_backward_flops(
    grad_out: Shape, query: Shape, key: Shape, value: Shape, *args: Any, **kwargs: Any
) -> int:
    return int(flop_counter.sdpa_backward_flop_count(grad_out, query, key, value))


CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: (
        cpu_attention_backward_flops
    ),
}


def count_flops(step: Callable[[], None]) -> int:
    """Matrix-multiply and attention FLOPs of one call (a multiply-add counts 2)."""
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
        step()
    return int(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    steps: dict[str, Callable[[], None]], iterations: int, warmup: int, device: torch.device
) -> dict[str, list[float]]:
    """Seconds per call of each step, the steps alternating and their order flipping every
    round. The first `warmup` rounds are not recorded."""
    timings: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(warmup + iterations):
        for name in names if round_index % 2 == 0 else names[::-1]:
            synchronize(device)
            started = time.perf_counter()
            steps[name]()
            synchronize(device)
            if round_index >= warmup:
                timings[name].append(time.perf_counter() - started)
    return timings


def measure_throughput(
    run: RunConfig,
    work: Workload,
    *,
    backward: bool,
    iterations: int,
    warmup: int,
    device: torch.device,
    autocast: torch.dtype | None = None,
) -> dict[str, Any]:
    """Ours and the peer on the same batch: seconds per step, tokens per second, FLOPs per
    step (on CUDA also the utilisation of the H200's peak), and ours / peer."""
    torch.manual_seed(0)
    contenders = [build_ours(run.dit, device), build_peer(run, work, device)]
    batch = random_batch(run.dit, work, device)
    steps = {c.name: make_step(c, batch, backward, autocast) for c in contenders}
    flops = {name: count_flops(step) for name, step in steps.items()}
    timings = time_interleaved(steps, iterations, warmup, device)
    result: dict[str, Any] = {
        "pass": "forward+backward" if backward else "forward",
        "device": device.type,
        "precision": "bf16 autocast" if autocast else "fp32",
        "workload": asdict(work) | {"tokens": work.tokens},
    }
    for contender in contenders:
        seconds = timings[contender.name]
        median_s = statistics.median(seconds)
        entry: dict[str, Any] = {
            "parameters": parameter_count(contender.model),
            "seconds_per_step": seconds,
            "median_seconds_per_step": median_s,
            "tokens_per_s": work.tokens / median_s,
            "flops_per_step": flops[contender.name],
            "achieved_tflops_per_s": flops[contender.name] / median_s / 1e12,
        }
        if device.type == "cuda":
            entry["mfu_h200_bf16"] = flops[contender.name] / median_s / H200_BF16_PEAK_FLOPS
        result[contender.name] = entry
    # Ours / peer in tokens per second = peer seconds / our seconds. Per round, the two
    # steps ran back to back, so a busy spell of the machine mostly slows both: the median
    # of the per-round ratios is the headline; the ratio of the two medians can pair a
    # quiet spell of one with a busy spell of the other.
    result["ratio_per_round"] = [
        p / o for o, p in zip(timings["ours"], timings["peer"], strict=True)
    ]
    result["ratio"] = statistics.median(result["ratio_per_round"])
    result["ratio_of_medians"] = result["ours"]["tokens_per_s"] / result["peer"]["tokens_per_s"]
    del contenders, steps, batch
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


# ---------------------------------------------------------------------------------------
# 4. Sampling: the engine, and on CUDA the denoising loop on the GPU


def engine_settings(scratch: Path) -> tuple[Settings, str]:
    """Settings for the engine: the shipped transformer, or until it ships, a random init
    of the `cpu` preset saved as the engine loads weights (sampling speed does not depend
    on the weights' values)."""
    if (WEIGHTS_DIR / "dit" / "config.json").is_file():
        return load_settings(), "shipped weights/dit"
    torch.manual_seed(0)
    save_pretrained(JointDiT(PRESETS["dit"]["cpu"].dit), scratch, dtype=torch.bfloat16)
    settings = load_settings().model_copy(update={"dit_weights": scratch})
    return settings, "random init of the cpu preset (weights/dit not shipped)"


def measure_engine(
    settings: Settings, seconds: float, size: str, fps: int, runs: int
) -> dict[str, Any]:
    """Wall time of `engine.generate` and its split, medians over `runs` after a first clip
    (1 s, or `seconds` if shorter) that loads the weights, the text encoder and the codecs."""
    from reelforge.engines import get_engine
    from reelforge.recaption import recaption
    from reelforge.types import no_progress

    engine = get_engine("dit", settings)
    plan, _ = recaption(SAMPLING_PROMPT, 0, settings)
    cuda = torch.cuda.is_available()

    def generate(clip_seconds: float, seed: int) -> tuple[float, dict[str, float], int]:
        started = time.perf_counter()
        clip = engine.generate(
            plan,
            seconds=clip_seconds,
            size=size,
            fps=fps,
            seed=seed,
            references=None,
            progress=no_progress,
        )
        wall = time.perf_counter() - started
        return wall, dict(clip.timings_s), clip.frame_count

    started = time.perf_counter()
    first_seconds = min(1.0, seconds)
    generate(first_seconds, 0)
    first_s = time.perf_counter() - started
    if cuda:  # did the engine put anything on the GPU beyond what is there already?
        allocated_before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    walls, splits, frames = [], [], 0
    for run in range(runs):
        wall, split, frames = generate(seconds, 1 + run)
        walls.append(wall)
        splits.append(split)
    median_wall = statistics.median(walls)
    median_split = {key: statistics.median(s[key] for s in splits) for key in splits[0]}
    result: dict[str, Any] = {
        "seconds": seconds,
        "size": size,
        "fps": fps,
        "frames": frames,
        "steps": settings.dit_steps,
        "first_clip_seconds": first_seconds,
        "first_clip_s": first_s,  # loading included
        "wall_s": walls,
        "median_wall_s": median_wall,
        "real_time_factor": median_wall / seconds,
        "median_split_s": median_split,
    }
    if "denoise_s" in median_split:
        result["denoise_step_s"] = median_split["denoise_s"] / settings.dit_steps
    if cuda:
        result["used_gpu"] = torch.cuda.max_memory_allocated() > allocated_before
    return result


def measure_gpu_denoising(
    run: RunConfig, seconds: float, size: str, fps: int, steps: int, runs: int
) -> dict[str, Any]:
    """The sampler's loop (`flow.sample`, guidance on: caption and empty caption in one
    batch) for one clip on the GPU in bf16 autocast; random weights and text states."""
    cuda = torch.device("cuda")
    work = clip_workload(run, seconds, size, fps, batch=1)
    model = JointDiT(run.dit).to(cuda).eval().requires_grad_(False)
    batch = random_batch(run.dit, work, cuda)
    cond = Conditioning(batch["text"], batch["text_mask"], fps=float(fps))
    video_shape = (
        run.dit.video_channels,
        work.latent_frames,
        work.latent_height,
        work.latent_width,
    )

    def denoise() -> float:
        synchronize(cuda)
        started = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            sample(
                model,
                cond,
                video_shape=video_shape,
                audio_shape=(run.dit.audio_channels, work.audio_latents),
                steps=steps,
                flow=FlowConfig(),
                guidance=Guidance(),
                generator=torch.Generator().manual_seed(0),
            )
        synchronize(cuda)
        return time.perf_counter() - started

    denoise()  # kernels, allocator
    walls = [denoise() for _ in range(runs)]
    median_s = statistics.median(walls)
    return {
        "seconds": seconds,
        "steps": steps,
        "tokens": work.tokens,
        "denoise_s": walls,
        "median_denoise_s": median_s,
        "denoise_step_s": median_s / steps,
        "real_time_factor": median_s / seconds,
    }


# ---------------------------------------------------------------------------------------
# 5. The run


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the JSON holds; CUDA parts only where a GPU is present. `--no-cpu` (a
    GPU machine, whose CPU is not the one the targets name) measures the GPU alone."""
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("--no-cpu measures the GPU, and there is no CUDA device")
    run = PRESETS["dit"][args.config]
    results: dict[str, Any] = {
        "config": args.config,
        "dit": asdict(run.dit),
        "threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as scratch:
        settings, weights = engine_settings(Path(scratch))
        results["engine_weights"] = weights
        if args.cpu:
            results["cpu"] = benchmark_cpu(args, run, settings)
        if not args.cuda:
            results["cuda"] = {"skipped": "--no-cuda"}
        elif torch.cuda.is_available():
            results["cuda"] = benchmark_cuda(args, settings, weights)
        else:
            results["cuda"] = {
                "skipped": "no CUDA device: no bf16 GPU training, MFU or 10 s real-time factor"
            }
    results["load_average_end"] = os.getloadavg()[0]
    return results


def benchmark_cpu(args: argparse.Namespace, run: RunConfig, settings: Settings) -> dict[str, Any]:
    seconds = args.train_seconds or run.train.window_seconds
    train = clip_workload(run, seconds, args.size, args.fps, args.batch)
    step = clip_workload(run, args.step_seconds, args.size, args.fps, batch=2)
    timing = {"iterations": args.iterations, "warmup": args.warmup, "device": torch.device("cpu")}
    return {
        "training": measure_throughput(run, train, backward=True, **timing),
        # The engine samples in bf16 autocast on a CPU; so does this comparison.
        "sampling_step": measure_throughput(
            run, step, backward=False, autocast=torch.bfloat16, **timing
        ),
        "engine": measure_engine(settings, args.sampling_seconds, args.size, args.fps, args.runs)
        if args.sampling
        else {"skipped": "--no-sampling"},
    }


def benchmark_cuda(args: argparse.Namespace, settings: Settings, weights: str) -> dict[str, Any]:
    run = PRESETS["dit"][args.cuda_config]
    cuda, bf16 = torch.device("cuda"), torch.bfloat16
    seconds = run.train.window_seconds
    train = clip_workload(run, seconds, args.size, args.fps, args.cuda_batch)
    step = clip_workload(run, seconds, args.size, args.fps, batch=2)
    timing = {"iterations": args.cuda_iterations, "warmup": 3, "device": cuda, "autocast": bf16}
    result: dict[str, Any] = {
        "device_name": torch.cuda.get_device_name(cuda),
        "iterations": args.cuda_iterations,
        "runs": args.cuda_runs,
        "config": args.cuda_config,
        "engine_weights": weights,
        "dit": asdict(run.dit),
        "training": attempt(measure_throughput, run, train, backward=True, **timing),
        "sampling_step": attempt(measure_throughput, run, step, backward=False, **timing),
    }
    if args.sampling:
        for clip_seconds in (4.0, 10.0):
            key = f"{clip_seconds:g}s"
            result[f"denoise_{key}"] = attempt(
                measure_gpu_denoising,
                run,
                clip_seconds,
                args.size,
                args.fps,
                settings.dit_steps,
                args.cuda_runs,
            )
            result[f"engine_{key}"] = attempt(
                measure_engine, settings, clip_seconds, args.size, args.fps, runs=1
            )
    return result


def attempt(measure: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The measure, or what stopped it: a GPU part that fails (out of memory, a model
    that does not run on CUDA) must not throw away the CPU results before it. The run
    still exits non-zero (`main`)."""
    try:
        return measure(*args, **kwargs)
    except (RuntimeError, ValueError) as exc:
        print(f"{measure.__name__} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        torch.cuda.empty_cache()
        return {"failed": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}


# ---------------------------------------------------------------------------------------
# 6. The table


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    cpu, dit = results["cpu"], results["dit"]
    train = cpu["training"]
    load = (results["load_average_start"] + results["load_average_end"]) / 2
    lines = [
        MARK_BEGIN,
        "### dit: the joint audio-video transformer against LTX-2's; sampling speed",
        "",
        f"`benchmarks/dit_speed.py --iterations {args.iterations}`: preset `{args.config}` "
        f"(width {dit['width']}, depth {dit['depth']}, heads {dit['heads']}, video patch "
        f"{dit['video_patch']}, audio patch {dit['audio_patch']}). Peer: diffusers' "
        "`LTX2VideoTransformer3DModel` (LTX-2, two streams with cross-modal attention) at "
        "the same width, depth, heads, text width and tokens, random init. Medians of "
        f"{args.iterations} steps per model, the two alternating, after {args.warmup} "
        f"warm-up; torch threads: {results['threads']}, on a {results['cpu_cores']}-core CPU (load "
        f"average {load:.1f}). Engine: {results['engine_weights']}.",
        "",
        "| measure | ours | peer | ours / peer |",
        "|---|---|---|---|",
        f"| parameters | {train['ours']['parameters'] / 1e6:.2f} M | "
        f"{train['peer']['parameters'] / 1e6:.2f} M | |",
    ]
    lines += throughput_rows(train, "CPU fp32", "(target ≥ 1.0)")
    lines += throughput_rows(cpu["sampling_step"], "CPU bf16")
    lines += engine_rows(cpu["engine"], "CPU", "(target ≤ 60 s for 4 s)")
    for cuda in results["cuda"].get("gpu_runs", [results["cuda"]]):
        if "skipped" in cuda:
            lines.append(f"| GPU | skipped: {cuda['skipped']} | | |")
            continue
        where = f"{cuda['device_name']} bf16, preset `{cuda['config']}`"
        lines.append(
            f"| GPU rows: `bin/device-stage bench --cuda-config {cuda['config']} "
            f"--cuda-iterations {cuda['iterations']} --cuda-runs {cuda['runs']}`; random init "
            f"(the engine: {cuda['engine_weights']}) | | | |"
        )
        lines += throughput_rows(cuda["training"], where)
        lines += throughput_rows(cuda["sampling_step"], where)
        for key in ("4s", "10s"):
            if f"denoise_{key}" in cuda:
                lines += denoise_rows(cuda[f"denoise_{key}"], where)
                lines += engine_rows(cuda[f"engine_{key}"], "GPU machine")
    lines.append(MARK_END)
    return "\n".join(lines)


def throughput_rows(result: dict[str, Any], where: str, target: str = "") -> list[str]:
    if "failed" in result:
        return [f"| ours and peer, {where} | failed: {result['failed']} | | |"]
    ours, peer, work = result["ours"], result["peer"], result["workload"]
    what = (
        f"{'training step' if result['pass'] == 'forward+backward' else 'sampling step'} "
        f"({result['pass']}), {where}, {work['seconds']:g} s clip × {work['batch']}: "
        f"{work['video_tokens']} video + {work['audio_tokens']} audio + "
        f"{work['text_tokens']} text tokens per clip"
    )
    per_round = result["ratio_per_round"]
    rows = [
        f"| **tokens/s, {what}**; last column: median of the per-round ratios | "
        f"**{ours['tokens_per_s']:.0f}** | {peer['tokens_per_s']:.0f} | "
        f"**{result['ratio']:.2f}** {target} |",
        f"| seconds per step, median; last column: per-round ratios min–max, and the ratio "
        f"of the medians | {ours['median_seconds_per_step']:.3f} s | "
        f"{peer['median_seconds_per_step']:.3f} s | {min(per_round):.2f}–{max(per_round):.2f}; "
        f"{result['ratio_of_medians']:.2f} |",
        f"| GFLOP per step (achieved TFLOP/s) | {ours['flops_per_step'] / 1e9:.1f} "
        f"({ours['achieved_tflops_per_s']:.3f}) | {peer['flops_per_step'] / 1e9:.1f} "
        f"({peer['achieved_tflops_per_s']:.3f}) | "
        f"{ours['flops_per_step'] / peer['flops_per_step']:.2f} |",
    ]
    if "mfu_h200_bf16" in ours:
        rows.append(
            f"| **MFU** (of 989 TFLOP/s dense bf16) | **{100 * ours['mfu_h200_bf16']:.1f} %** | "
            f"{100 * peer['mfu_h200_bf16']:.1f} % | |"
        )
    return rows


def engine_rows(result: dict[str, Any], where: str, target: str = "") -> list[str]:
    if "skipped" in result or "failed" in result:
        why = result.get("skipped") or f"failed: {result['failed']}"
        return [f"| engine.generate, {where} | {why} | | |"]
    gpu = ""
    if "used_gpu" in result:
        gpu = ", on the GPU" if result["used_gpu"] else ", on the CPU (the engine has no GPU path)"
    rows = [
        f"| **engine.generate, {result['seconds']:g} s {result['size']} clip "
        f"({result['frames']} frames, {result['steps']} steps), {where}{gpu}** {target}; "
        f"median of {len(result['wall_s'])} ({min(result['wall_s']):.1f}–"
        f"{max(result['wall_s']):.1f} s) | **{result['median_wall_s']:.1f} s** | | |",
        f"| real-time factor (wall / clip length) | {result['real_time_factor']:.2f} | | |",
    ]
    split = result["median_split_s"]
    rows += [f"| of which `{key}` | {value:.2f} s | | |" for key, value in split.items()]
    if "denoise_step_s" in result:
        rows.append(
            f"| one denoising step (caption + empty caption) | {result['denoise_step_s']:.2f} s "
            "| | |"
        )
    return rows


def denoise_rows(result: dict[str, Any], where: str) -> list[str]:
    if "failed" in result:
        return [f"| denoising on the GPU, {where} | failed: {result['failed']} | | |"]
    return [
        f"| **denoising a {result['seconds']:g} s clip on the GPU** ({where}, "
        f"{result['steps']} steps, {result['tokens']} tokens) | "
        f"**{result['median_denoise_s']:.2f} s** | | |",
        f"| real-time factor of the denoising | {result['real_time_factor']:.3f} | | |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    presets = sorted(PRESETS["dit"])
    parser.add_argument("--out", type=Path, default=Path("out/dit_speed.json"), help="JSON")
    parser.add_argument("--config", choices=presets, default="cpu", help="dit preset on the CPU")
    parser.add_argument(
        "--train-seconds", type=float, default=None, help="training clip (default the preset's)"
    )
    parser.add_argument("--batch", type=int, default=1, help="clips per CPU training step")
    parser.add_argument("--step-seconds", type=float, default=4.0, help="clip of a sampling step")
    parser.add_argument("--size", default="256x448", help="WxH, a native size")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--iterations", type=int, default=3, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="timed clips through the engine")
    parser.add_argument("--sampling-seconds", type=float, default=4.0, help="engine clip")
    parser.add_argument("--no-sampling", dest="sampling", action="store_false")
    parser.add_argument("--no-cuda", dest="cuda", action="store_false", help="CPU only")
    parser.add_argument("--cuda-config", choices=presets, default="full")
    parser.add_argument("--cuda-batch", type=int, default=1, help="clips per GPU training step")
    parser.add_argument("--cuda-iterations", type=int, default=10)
    parser.add_argument("--cuda-runs", type=int, default=3, help="timed denoising loops")
    parser.add_argument("--no-write", action="store_true", help="leave docs/BENCHMARKS.md alone")
    parser.add_argument(
        "--no-cpu", dest="cpu", action="store_false", help="GPU measures only (a GPU machine)"
    )
    parser.add_argument(
        "--from-json",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="measure nothing: the table from a CPU run's JSON and --no-cpu runs' JSONs",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_json:
        results = json.loads(args.from_json[0].read_text())
        gpu_runs = [json.loads(path.read_text())["cuda"] for path in args.from_json[1:]]
        results["cuda"] = gpu_runs[0] if len(gpu_runs) == 1 else {"gpu_runs": gpu_runs}
    else:
        results = benchmark(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    if not args.cpu:
        print(json.dumps(results["cuda"], indent=2))
        return
    table = report(results, args)
    print(table)
    if args.config != "cpu" or not args.cpu:
        print(f"preset {args.config}: docs/BENCHMARKS.md left alone", file=sys.stderr)
    elif not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)
    failed = [k for k, v in results["cuda"].items() if isinstance(v, dict) and "failed" in v]
    if failed:
        sys.exit(f"GPU measures failed: {', '.join(failed)} (see {args.out})")


if __name__ == "__main__":
    main()
