"""`reelforge train vae|audio --config NAME`: train a codec, one process or many.

    reelforge train vae --config cpu --out runs/vae-cpu
    torchrun --nproc_per_node 2 -m reelforge.engines.dit.train vae --config cpu --out runs/x

`train()` is a linear main: processes, data, model + EMA, resume, loop, export. Under
torchrun each process takes its slice of every global batch (DDP averages gradients, so
W processes follow the trajectory of one with the same global batch; on GPUs
`parallel="fsdp"` shards parameters with FSDP2 instead). Checkpoints are sharded
safetensors every `checkpoint_every` steps; `resume=True` continues bit-identically
because data, posterior noise and learning rate are functions of the step alone.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from reelforge.engines.dit import checkpoint as ckpt
from reelforge.engines.dit.audio_codec import AudioCodec
from reelforge.engines.dit.conditioning import CODEC_SAMPLE_RATE, REFERENCE_VOICE_S
from reelforge.engines.dit.config import RunConfig, TrainConfig, add_train_arguments, preset
from reelforge.engines.dit.data import (
    AudioSegments,
    ReusedClips,
    Sample,
    SimClipDataset,
    StepBatches,
    VideoFolderDataset,
    VideoWindows,
)
from reelforge.engines.dit.layers import Posterior
from reelforge.engines.dit.losses import frequency_l1, multi_resolution_stft
from reelforge.engines.dit.model import JointDiT
from reelforge.engines.dit.video_vae import VideoVAE, frames_to_tensor
from reelforge.errors import ConfigError, InvalidRequest
from reelforge.shipped import shared


@dataclass(frozen=True)
class Options:
    """What the command line adds to a preset. `steps` overrides the preset's (short
    runs); shipped weights use the preset as it is."""

    out: Path
    data: Path | None = None
    resume: bool = False
    steps: int | None = None
    stop_at: int | None = None  # end this call after that step (a lease's stage)
    max_minutes: float | None = None  # or after this long (the log says at which step)
    export: Path | None = None
    threads: int | None = None
    latents: Path | None = None  # dit: the latent cache (filled first if short)
    init: Path | None = None  # start from these saved weights instead of a fresh model
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def train(run: RunConfig, options: Options) -> list[float]:
    """Train `run`; returns the loss of every step this call ran (global batch mean)."""
    cfg = run.train
    steps = options.steps if options.steps is not None else cfg.steps
    if steps < 0:
        raise InvalidRequest(f"steps must be ≥ 0, got {steps}", param="steps")
    stop = steps if options.stop_at is None else options.stop_at
    if options.stop_at is not None and not 0 < stop <= steps:
        raise InvalidRequest(f"stop_at must be in [1, {steps}], got {stop}", param="stop_at")
    if options.threads:
        torch.set_num_threads(options.threads)

    # 1. Processes and the run directory.
    procs = setup_processes()
    out = options.out
    start_step, latest = 0, latest_checkpoint(out)
    if latest is not None and not options.resume:
        raise InvalidRequest(
            f"out {str(out)!r} already holds checkpoints; pass --resume to continue or "
            "choose another --out",
            param="out",
        )
    if procs.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(run.to_json() + "\n")

    # 2. Model and EMA; on resume, their weights (whole tensors, before any sharding).
    torch.manual_seed(cfg.seed)
    model = build_model(run).to(procs.device)
    if options.init is not None and latest is None:
        initialise_from(model, options.init, options.log)
    if run.target == "dit":
        latents_dir = prepare_latents(run, options, procs)
        if latest is None and options.init is None:  # initial weights bring their own
            set_latent_statistics(model, latents_dir)
    ema = copy.deepcopy(model).requires_grad_(False)
    trained = trainable_parameters(model, cfg.trainable)
    if latest is not None:
        start_step = load_weights(latest, model, ema)
    wrapped = wrap_parallel(model, cfg, procs)
    if cfg.parallel == "fsdp" and procs.world > 1:
        wrap_parallel(ema, cfg, procs)  # the same sharding, so EMA updates stay local

    # 3. Optimizer, created on the (possibly sharded) parameters; on resume, its state.
    optimizer = torch.optim.AdamW(
        trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay
    )
    if latest is not None:
        load_optimizer(latest, model, optimizer)
        options.log(f"resumed from {latest} at step {start_step}")

    # 4. Data: each process reads its slice of each global batch, from the start step on.
    batches = make_loader(run, options, procs, start_step)

    # 5. Loop.
    writer = tensorboard_writer(out) if procs.main else None
    losses: list[float] = []
    started, last_log = time.perf_counter(), time.perf_counter()
    flops_per_step: float | None = None
    iterator = iter(batches)
    for step in range(start_step, stop):
        batch = to_device(next(iterator), procs.device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step, steps)
        noise = global_noise(model, batch, run, step, procs)
        with autocast(procs.device, cpu=run.target == "dit"):
            if flops_per_step is None:  # FLOPs of one step, for throughput and MFU logs
                flops_per_step = counted_step(run, wrapped, batch, noise)
                optimizer.zero_grad(set_to_none=True)
            loss, parts = step_loss(run, wrapped, batch, noise)
            loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        update_ema(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
        values = average_over_processes({"loss": loss.detach(), **parts}, procs)
        losses.append(values["loss"])
        done = step + 1
        if done % cfg.log_every == 0 or done == stop:
            now = time.perf_counter()
            rate = cfg.log_every / max(now - last_log, 1e-9)
            last_log = now
            log_step(
                options.log,
                writer,
                done,
                steps,
                values,
                float(grad_norm),
                rate,
                cfg,
                flops_per_step * procs.world if flops_per_step else None,
                now - started,
            )
        if (
            options.max_minutes is not None
            and time.perf_counter() - started > 60 * options.max_minutes
        ):
            options.log(f"stopping after step {done}: --max-minutes {options.max_minutes:g}")
            stop = done
        if done % cfg.checkpoint_every == 0 or done == stop:
            save_checkpoint(out, done, run, model, ema, optimizer, procs)
        if done == stop:
            break

    # 6. Export the EMA weights in bfloat16 for shipping.
    if options.export is not None and procs.main:
        ckpt.save_pretrained(
            ema,
            options.export,
            dtype=torch.bfloat16,
            max_shard_bytes=int(cfg.max_shard_mib * ckpt.MIB),
        )
        options.log(f"exported EMA weights (bfloat16) to {options.export}")
    if writer is not None:
        writer.close()
    if procs.world > 1:
        dist.barrier()
    return losses


# ---------------------------------------------------------------------------------------
# 1. Processes


def setup_processes() -> Processes:
    """One process, or the process group torchrun describes (its env:// variables)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    return Processes(rank, world, device)


def wrap_parallel(model: nn.Module, cfg: TrainConfig, procs: Processes) -> nn.Module:
    if procs.world == 1:
        return model
    if cfg.parallel == "fsdp":
        if procs.device.type != "cuda":
            raise InvalidRequest("parallel 'fsdp' needs GPUs; use 'ddp'", param="parallel")
        from torch.distributed.fsdp import fully_shard

        # Not exercised by the CPU test suite; checkpoints gather full state dicts.
        for module in model.modules():
            if type(module).__name__ in {"CausalBlock", "ConvNeXtBlock"}:
                fully_shard(module)
        fully_shard(model)
        return model
    device_ids = [procs.device.index] if procs.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def autocast(device: torch.device, cpu: bool = False) -> torch.autocast:
    """bfloat16 autocast on GPUs; on the CPU only when asked (`cpu`): the transformer's
    matrix products run 3× faster in bf16 there (a training step 1.45×), the codecs'
    convolutions slower."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" or cpu)


def average_over_processes(values: dict[str, torch.Tensor], procs: Processes) -> dict[str, float]:
    stacked = torch.stack([v.float() for v in values.values()])
    if procs.world > 1:
        dist.all_reduce(stacked)
        stacked /= procs.world
    return dict(zip(values, stacked.tolist(), strict=True))


# ---------------------------------------------------------------------------------------
# 2. Data and model


def build_model(run: RunConfig) -> nn.Module:
    if run.target == "vae":
        return VideoVAE(run.video)
    if run.target == "audio":
        return AudioCodec(run.audio)
    return JointDiT(run.dit)


# Config fields whose modules start at zero output: weights saved without them give the
# same function in a model with them, so --init may add them.
ADDS = ("conv_head",)


def initialise_from(model: nn.Module, directory: Path, log: Callable[[str], None]) -> None:
    """Weights of a saved model (`save_pretrained`) into `model`, which may have modules
    the saved one lacks (they keep their initialisation, which starts at zero output);
    anything else that does not match is an error naming the path."""
    if not (directory / "config.json").is_file():
        raise InvalidRequest(
            f"init {str(directory)!r} is not a saved model directory (no config.json)",
            param="init",
        )
    saved = json.loads((directory / "config.json").read_text()).get("config", {})
    mine = dataclasses.asdict(model.config)  # type: ignore[call-overload]
    differ = [k for k in sorted(mine) if k in saved and saved[k] != mine[k] and k not in ADDS]
    weights = ckpt.load_sharded(directory)
    own = model.state_dict()
    wrong = differ + [k for k, v in weights.items() if k not in own or own[k].shape != v.shape]
    if wrong:
        raise InvalidRequest(
            f"init {str(directory)!r} does not fit the preset's model: {wrong[0]!r}",
            param="init",
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in weights.items()}, strict=False)
    new = sorted({k.split(".")[0] for k in own if k not in weights})
    log(f"initialised from {directory}" + (f"; new: {', '.join(new)}" if new else ""))


def trainable_parameters(model: nn.Module, prefixes: tuple[str, ...]) -> list[nn.Parameter]:
    """The parameters a run trains (all, or those named by `prefixes`); the rest are
    frozen, so the backward pass stops where nothing trainable is left."""
    if not prefixes:
        return list(model.parameters())
    trained = []
    for name, parameter in model.named_parameters():
        keep = name.startswith(prefixes)
        parameter.requires_grad_(keep)
        if keep:
            trained.append(parameter)
    if not trained:
        raise ConfigError(f"trainable {prefixes!r} names no parameter", param="trainable")
    return trained


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    return batch.to(device)


FILLED = "filled.txt"  # in a latent cache: the clip count a run finished filling


def latents_directory(run: RunConfig, options: Options) -> Path:
    return options.latents or Path("out") / "latents" / f"{run.name}-{run.train.clip_seconds:g}s"


def prepare_latents(run: RunConfig, options: Options, procs: Processes) -> Path:
    """dit: make sure the latent cache holds `latent_clips` clips (sim clips at 256x448
    through the shipped codecs, or the --data folder) and their cameo references; the
    main process fills what is missing (with `cache_workers` processes), the others wait."""
    cfg, directory = run.train, latents_directory(run, options)
    count = cfg.latent_clips if options.data is None else None
    if procs.main and not is_filled(directory, count):
        have = len(list(directory.glob("*.safetensors"))) if directory.is_dir() else 0
        options.log(f"caching latents in {directory} ({have} there)")
        parts = range(max(1, cfg.cache_workers))
        clips = [(run, options.data, directory, count, part, len(parts)) for part in parts]
        references = [(run, directory, part, len(parts)) for part in parts]
        if len(parts) == 1:
            _fill_cache(*clips[0])
            _fill_references(*references[0])
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
            with context.Pool(len(parts)) as pool:
                pool.starmap(_fill_cache, clips)
                pool.starmap(_fill_references, references)  # over the whole cache
        if count is not None:
            (directory / FILLED).write_text(f"{count}\n")
    if procs.world > 1:
        dist.barrier()
    return directory


def is_filled(directory: Path, count: int | None) -> bool:
    """A sim cache that a run finished filling with at least `count` clips and their
    references: resumes skip scanning it (4,000 clips: half a minute). A --data cache
    (count None) is always checked."""
    if count is None or not (directory / FILLED).is_file():
        return False
    return len(list(directory.glob("*.safetensors"))) >= count


def _fill_cache(
    run: RunConfig, data: Path | None, directory: Path, count: int | None, part: int, parts: int
) -> None:
    """Clips part, part + parts, ... of the cache (all of them for parts = 1)."""
    from reelforge.engines.dit.data import cache_latents

    if parts > 1:
        _one_thread()
    clips: Dataset[Sample] = (
        SimClipDataset(seconds=run.train.clip_seconds, sizes=("256x448",), seed=run.train.seed)
        if data is None
        else VideoFolderDataset(data, seconds=run.train.clip_seconds)
    )
    total = count if count is not None else len(clips)  # type: ignore[arg-type]
    codecs = codecs_for(run)
    cache_latents(
        clips, range(part, total, parts), directory, codecs.encode_video, codecs.encode_audio
    )


def _fill_references(run: RunConfig, directory: Path, part: int, parts: int) -> None:
    from reelforge.engines.dit.data import LatentCache, cache_references

    if parts > 1:
        _one_thread()
    cache, codecs = LatentCache(directory), codecs_for(run)
    cache_references(
        cache,
        directory / "references",
        codecs.encode_video,
        codecs.encode_audio,
        indices=range(part, len(cache), parts),
    )


def codecs_for(run: RunConfig) -> Any:
    """The shipped codecs, once per process for clips and references alike (shipped.py);
    the tiny preset (tests) uses fresh tiny ones of the same seed."""
    return shared("dit training codecs", run, lambda: _codecs(run))


def _codecs(run: RunConfig) -> Any:
    from reelforge.engines.dit.codecs import CodecPair

    if run.name == "tiny":
        torch.manual_seed(0)
        return CodecPair(VideoVAE(run.video), AudioCodec(run.audio), torch.float32)
    codecs = CodecPair.from_pretrained()
    return codecs.to("cuda") if torch.cuda.is_available() else codecs


@torch.no_grad()
def set_latent_statistics(model: nn.Module, directory: Path, clips: int = 64) -> None:
    """Per-channel mean and std of the cached latents, into the model's buffers."""
    from reelforge.engines.dit.data import LatentCache

    cache = LatentCache(directory)
    items = [cache[i] for i in range(min(clips, len(cache)))]
    video = torch.cat([i["video"].float().flatten(1) for i in items], dim=1)
    audio = torch.cat([i["audio"].float().flatten(1) for i in items], dim=1)
    model.video_mean.copy_(video.mean(1))  # type: ignore[operator]
    model.video_std.copy_(video.std(1).clamp(min=1e-3))  # type: ignore[operator]
    model.audio_mean.copy_(audio.mean(1))  # type: ignore[operator]
    model.audio_std.copy_(audio.std(1).clamp(min=1e-3))  # type: ignore[operator]


def make_loader(
    run: RunConfig, options: Options, procs: Processes, start_step: int
) -> DataLoader[Any]:
    cfg, data = run.train, options.data
    if run.target == "dit":
        from reelforge.engines.dit.data import LatentCache, LatentWindows

        directory = latents_directory(run, options)
        windows = LatentWindows(
            LatentCache(directory),
            video_latents=1 + math.ceil(cfg.window_seconds * 24 / run.dit.frames_per_latent),
            audio_latents=round(cfg.window_seconds * run.dit.audio_latents_per_second),
            max_text_tokens=run.dit.max_text_tokens,
            references_dir=directory / "references",
            voice_latents=round(REFERENCE_VOICE_S * run.dit.audio_latents_per_second),
        )
        return DataLoader(
            windows,
            batch_sampler=StepBatches(
                cfg.batch_size, procs.rank, procs.world, start_step, len(windows)
            ),
            num_workers=cfg.workers,
            worker_init_fn=_one_thread if cfg.workers else None,
            prefetch_factor=4 if cfg.workers else None,
        )
    clips: Dataset[Sample]
    if data is None:
        clips = SimClipDataset(seconds=cfg.clip_seconds, seed=cfg.seed)
    else:
        clips = VideoFolderDataset(data, seconds=cfg.clip_seconds)
    reused = ReusedClips(clips, batch=cfg.batch_size, reuse=cfg.reuse_clips)
    items: Dataset[torch.Tensor]
    if run.target == "vae":
        if (cfg.clip_frames - 1) % run.video.frames_per_latent:
            raise InvalidRequest(
                f"clip_frames must be 1 + {run.video.frames_per_latent}k, got {cfg.clip_frames}",
                param="clip_frames",
            )
        items = VideoWindows(reused, frames=cfg.clip_frames, crop_px=cfg.crop_px, seed=cfg.seed)
    else:
        items = AudioSegments(
            reused, samples=round(cfg.audio_seconds * CODEC_SAMPLE_RATE), seed=cfg.seed
        )
    sampler = StepBatches(cfg.batch_size, procs.rank, procs.world, start_step, len(reused))
    return DataLoader(
        items,
        batch_sampler=sampler,
        num_workers=cfg.workers,
        worker_init_fn=_one_thread if cfg.workers else None,
        prefetch_factor=4 if cfg.workers else None,
    )


def _one_thread(_: int = 0) -> None:
    """Data and caching workers: one torch thread and one BLAS thread (the dit loader runs
    MiniLM in numpy: 12 workers with a BLAS thread per core stalled a 16-core GPU machine's
    first run), leaving the cores to training and to each other."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def global_noise(model: nn.Module, batch: Any, run: RunConfig, step: int, procs: Processes) -> Any:
    """This process's slice of one draw for the whole global batch: posterior noise for
    the codecs, timesteps, noise and coin flips for the diffusion transformer."""
    seed = run.train.seed * 1_000_003 + step
    generator = torch.Generator().manual_seed(seed)
    if run.target == "dit":
        if procs.device.type == "cuda":  # ~25 M normals a step: draw them where they are used
            generator = torch.Generator(procs.device).manual_seed(seed)
        from reelforge.engines.dit.flow import draw

        share = batch["video"].shape[0]
        video_shape, audio_shape = tuple(batch["video"].shape[1:]), tuple(batch["audio"].shape[1:])
        tokens = model.token_count(video_shape[1:], audio_shape[1])  # type: ignore[operator]
        draws = draw(share * procs.world, video_shape, audio_shape, tokens, run.flow, generator)
        return draws.slice(procs.rank * share, (procs.rank + 1) * share)
    shape = model.latent_shape(model_input_shape(model, batch))  # type: ignore[operator]
    share = shape[0]
    noise = torch.randn((share * procs.world, *shape[1:]), generator=generator)
    return noise[procs.rank * share : (procs.rank + 1) * share].to(batch.device)


def model_input_shape(model: nn.Module, batch: torch.Tensor) -> tuple[int, ...]:
    if isinstance(model, VideoVAE):
        b, t, h, w, _ = batch.shape  # uint8 (B, T, H, W, 3)
        return (b, 3, t, h, w)
    return tuple(batch.shape)


# ---------------------------------------------------------------------------------------
# 3. Objective


def step_loss(
    run: RunConfig, model: nn.Module, batch: Any, noise: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    cfg = run.train
    posterior: Posterior
    if run.target == "dit":
        return dit_loss(run, model, batch, noise)
    if run.target == "vae":
        target = frames_to_tensor(batch)  # (B, 3, T, H, W) in [-1, 1]
        reconstruction, posterior = model(target, noise)
        l1 = F.l1_loss(reconstruction.float(), target)
        frequency = frequency_l1(reconstruction, target)
        kl = posterior.kl()
        loss = l1 + cfg.frequency_weight * frequency + cfg.kl_weight * kl
        return loss, {"l1": l1.detach(), "frequency": frequency.detach(), "kl": kl.detach()}
    reconstruction, posterior = model(batch, noise)  # (B, S) at 16 kHz
    stft = multi_resolution_stft(reconstruction, batch)
    waveform = F.l1_loss(reconstruction.float(), batch)
    kl = posterior.kl()
    loss = stft + cfg.waveform_weight * waveform + cfg.kl_weight * kl
    return loss, {"stft": stft.detach(), "waveform_l1": waveform.detach(), "kl": kl.detach()}


def dit_loss(
    run: RunConfig, model: nn.Module, batch: dict[str, torch.Tensor], draws: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Rectified flow on normalised latents; captions dropped, first frames given and
    references attached as the step's draws say."""
    from reelforge.engines.dit.flow import Conditioning, flow_loss

    inner: JointDiT = getattr(model, "module", model)  # type: ignore[arg-type]
    video, audio = inner.normalize_video(batch["video"]), inner.normalize_audio(batch["audio"])
    ref_image = inner.normalize_video(batch["ref_image"])
    ref_voice = inner.normalize_audio(batch["ref_voice"])
    device = video.device
    cond = Conditioning(
        text=batch["text"],
        text_mask=batch["text_mask"] & ~draws.drop_caption.to(device)[:, None],
        first_frame=video[:, :, :1],
        first_frame_mask=draws.first_frame.to(device),
        ref_image=ref_image,
        ref_voice=ref_voice,
        ref_mask=batch["has_refs"] & draws.use_refs.to(device),
    )
    result = flow_loss(model, video, audio, cond, run.flow, draws)
    return result.loss, {"video": result.video, "audio": result.audio}


def counted_step(run: RunConfig, model: nn.Module, batch: Any, noise: Any) -> float:
    """FLOPs of `step_loss` + backward, counted in a pass of their own whose gradients are
    thrown away: the FLOP counter may pick other kernels (the CPU's attention), and the
    step that trains must be the same whether a run starts here or resumes here."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loss, _ = step_loss(run, model, batch, noise)
        loss.backward()
    return float(counter.get_total_flops())


def learning_rate(cfg: TrainConfig, step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_params: list[torch.Tensor] = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - decay)


# ---------------------------------------------------------------------------------------
# 4. Logging


def tensorboard_writer(out: Path) -> Any:
    """tensorboardX's writer, or PyTorch's where only tensorboard is installed (a GPU
    image); the two write the same event files."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tensorboard"))


def log_step(
    log: Callable[[str], None],
    writer: Any,
    step: int,
    steps: int,
    values: dict[str, float],
    grad_norm: float,
    steps_per_s: float,
    cfg: TrainConfig,
    flops_per_step: float | None,
    elapsed_s: float,
) -> None:
    parts = " ".join(f"{k} {v:.4f}" for k, v in values.items())
    flops = f" {flops_per_step * steps_per_s / 1e12:.3f} TFLOP/s" if flops_per_step else ""
    log(
        f"step {step}/{steps} {parts} grad_norm {grad_norm:.3f} "
        f"{steps_per_s * cfg.batch_size:.2f} samples/s{flops} elapsed {elapsed_s / 60:.1f} min"
    )
    if writer is not None:
        for key, value in values.items():
            writer.add_scalar(f"train/{key}", value, step)
        writer.add_scalar("train/grad_norm", grad_norm, step)
        writer.add_scalar("train/samples_per_s", steps_per_s * cfg.batch_size, step)
        if flops_per_step:
            writer.add_scalar("train/tflops_per_s", flops_per_step * steps_per_s / 1e12, step)
        writer.flush()


# ---------------------------------------------------------------------------------------
# 5. Checkpoints


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / "checkpoints").glob("step-*")) if out.is_dir() else []
    found = [p for p in found if (p / "trainer.json").is_file()]
    return found[-1] if found else None


def full_state(
    module: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> tuple[dict[str, Any], Any]:
    """Whole (unsharded) state dicts; under FSDP2 every process must call this."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    weights = get_model_state_dict(module, options=options)
    state = get_optimizer_state_dict(module, optimizer, options=options) if optimizer else None
    return weights, state


def save_checkpoint(
    out: Path,
    step: int,
    run: RunConfig,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    procs: Processes,
) -> None:
    """checkpoints/step-N: EMA weights (from_pretrained-able), raw weights, optimizer."""
    raw, optimizer_state = full_state(model, optimizer)
    ema_weights, _ = full_state(ema)
    if procs.main:
        limit = int(run.train.max_shard_mib * ckpt.MIB)
        final = out / "checkpoints" / f"step-{step:08d}"
        staging = final.with_name(f".{final.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        ckpt.save_pretrained(ema, staging, state=ema_weights, max_shard_bytes=limit)
        ckpt.save_sharded(raw, staging, "raw", limit)
        skeleton, tensors = ckpt.flatten_state(optimizer_state)
        ckpt.save_sharded(tensors, staging, "optimizer", limit)
        (staging / "optimizer.json").write_text(json.dumps(skeleton))
        (staging / "trainer.json").write_text(json.dumps({"step": step}) + "\n")
        ckpt.replace_directory(staging, final)
        for old in sorted((out / "checkpoints").glob("step-*"))[: -run.train.keep_checkpoints]:
            shutil.rmtree(old)
    if procs.world > 1:
        dist.barrier()


def load_weights(path: Path, model: nn.Module, ema: nn.Module) -> int:
    """Raw and EMA weights of checkpoint `path` into unsharded models; returns its step."""
    model.load_state_dict(ckpt.load_sharded(path, "raw"))
    ema.load_state_dict(ckpt.load_sharded(path, "model"))
    return int(json.loads((path / "trainer.json").read_text())["step"])


def load_optimizer(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    skeleton = json.loads((path / "optimizer.json").read_text())
    state = ckpt.unflatten_state(skeleton, ckpt.load_sharded(path, "optimizer"))
    options = StateDictOptions(full_state_dict=True)
    set_optimizer_state_dict(model, optimizer, state, options=options)


# ---------------------------------------------------------------------------------------
# Command line (the same function `reelforge train` calls)


def run_from_arguments(args: argparse.Namespace) -> int:
    run = preset(args.target, args.config)
    if args.data is not None and not args.data.is_dir():
        raise InvalidRequest(f"data {str(args.data)!r} is not a directory", param="data")
    out = args.out or Path("out") / "train" / f"{args.target}-{args.config}"
    options = Options(
        out=out,
        data=args.data,
        resume=args.resume,
        steps=args.steps,
        stop_at=args.stop_at,
        max_minutes=args.max_minutes,
        export=args.export,
        threads=args.threads,
        latents=args.latents,
        init=args.init,
    )
    train(run, options)
    return 0


def main(argv: list[str] | None = None) -> int:
    """torchrun entry point: python -m reelforge.engines.dit.train TARGET --config NAME."""
    from reelforge.errors import ReelforgeError

    parser = argparse.ArgumentParser(prog="reelforge.engines.dit.train")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_arguments(args)
    except ReelforgeError as error:
        print(f"train: error: {error}", file=sys.stderr)
        return error.exit_code
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
