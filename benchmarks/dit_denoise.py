"""Held-out denoising: how close is a dit checkpoint's one-step clean estimate?

For clips no checkpoint trained on (sim seed 0, clips 4,000 onwards: training caches use
the first 500 or 4,000), each clip's first 2 s of video latents are noised to
x_t = (1 − t)·x₀ + t·ε and the model's estimate x̂₀ = x_t − t·v̂ (with the caption, no
guidance) is compared with x₀: mean squared error in the model's normalised latent space,
video and audio separately. Peers in the same run:

- the noisy input itself (x̂₀ = x_t);
- zero (the per-channel mean of the training data);
- the per-position mean of the training cache: the best caption-blind guess for each
  latent pixel. At t = 1 (pure noise) a model that has learnt where things sit in a
  frame should beat it, and one that only predicts zero cannot.

A second table measures the tiles of early checkpoints: the patch-border ratio of x̂₀,
the mean |difference| between neighbouring latent pixels that lie in different patches
(tokens) over the same for neighbours inside one patch. The clean latents' own ratio is
the reference: a model whose patches meet at hard edges scores above it.

The held-out clips are cached through the shipped codecs on first use.

    .venv/bin/python benchmarks/dit_denoise.py weights/dit [NAME=DIR ...] [--no-write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmark_doc import write_section
from reelforge.engines.dit.checkpoint import from_pretrained
from reelforge.engines.dit.conditioning import text_conditioning as caption_states
from reelforge.engines.dit.config import DiTConfig
from reelforge.engines.dit.data import LatentCache, SimClipDataset, cache_latents
from reelforge.engines.dit.model import Conditioning, JointDiT
from reelforge.errors import ReelforgeError

MARK_BEGIN, MARK_END = "<!-- dit_denoise:begin -->", "<!-- dit_denoise:end -->"
HELD_OUT_FIRST = 4000  # sim seed 0: the cpu preset caches clips 0-499, h200 0-3,999
TIMES = (0.3, 0.6, 0.9, 1.0)
WINDOW_S = 2.0  # what training sees of each clip


def load(path: str) -> JointDiT:
    model = from_pretrained(path)
    if not isinstance(model, JointDiT):
        raise SystemExit(f"dit_denoise: {path} holds a {type(model).__name__}, not a dit model")
    return model.eval()


def held_out_cache(directory: Path, clips: int) -> LatentCache:
    """Sim clips HELD_OUT_FIRST … + clips (4 s, 256x448), encoded by the shipped codecs."""
    from reelforge.engines.dit.codecs import CodecPair

    indices = range(HELD_OUT_FIRST, HELD_OUT_FIRST + clips)
    missing = [i for i in indices if not (directory / f"{i:08d}.safetensors").is_file()]
    if missing:
        print(f"caching {len(missing)} held-out clips in {directory}", flush=True)
        codecs = CodecPair.from_pretrained()
        dataset = SimClipDataset(seconds=4.0, sizes=("256x448",), seed=0)
        cache_latents(dataset, indices, directory, codecs.encode_video, codecs.encode_audio)
    cache = LatentCache(directory)
    cache.paths = [directory / f"{i:08d}.safetensors" for i in indices]
    return cache


def window(
    cache: LatentCache, index: int, cfg: DiTConfig
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Clip `index`'s first WINDOW_S seconds as cached: video and audio latents (batch of
    one), and its caption."""
    tensors, metadata = cache.read(index)
    video_latents = 1 + round(WINDOW_S * 24 / cfg.frames_per_latent)
    audio_latents = round(WINDOW_S * cfg.audio_latents_per_second)
    video = tensors["video"].float()[None, :, :video_latents]
    audio = tensors["audio"].float()[None, :, :audio_latents]
    return video, audio, metadata.get("caption", "")


def model_inputs(
    model: JointDiT, windows: list[tuple[torch.Tensor, torch.Tensor, str]]
) -> list[dict[str, torch.Tensor]]:
    """The windows in `model`'s normalised latent space, with their captions' token states."""
    from reelforge.recaption.embedding import shared_encoder

    clips = []
    for video, audio, caption in windows:
        text, mask = caption_states(shared_encoder(), caption, model.config.max_text_tokens)
        clips.append(
            {
                "video": model.normalize_video(video),
                "audio": model.normalize_audio(audio),
                "text": text[None],
                "text_mask": mask[None],
            }
        )
    return clips


def position_mean(model: JointDiT, directory: Path, clips: int) -> torch.Tensor | None:
    """Mean normalised video latent at each (channel, frame, y, x) over training clips."""
    if not directory.is_dir():
        return None
    cache = LatentCache(directory)
    count = min(clips, len(cache))
    videos = (model.normalize_video(window(cache, i, model.config)[0]) for i in range(count))
    return sum(videos, torch.zeros(())) / count if count else None


def noise(index: int, clip: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip `index`'s noise, video then audio: the same for every t and every model."""
    generator = torch.Generator().manual_seed(index)
    return (
        torch.randn(clip["video"].shape, generator=generator),
        torch.randn(clip["audio"].shape, generator=generator),
    )


def mean_square(x: torch.Tensor) -> float:
    return float(x.pow(2).mean())


def border_ratio(video: torch.Tensor, patch: int) -> float:
    """Mean |Δ| between horizontally or vertically neighbouring latent pixels of (B, C,
    N, h, w) that straddle a patch border, over the same for pairs inside a patch."""
    across, inside = [], []
    for dim in (-1, -2):
        size = video.shape[dim]
        steps = (video.narrow(dim, 1, size - 1) - video.narrow(dim, 0, size - 1)).abs()
        border = (torch.arange(size - 1) % patch) == patch - 1  # pair (i, i + 1) crosses
        across.append(steps.movedim(dim, 0)[border].flatten())
        inside.append(steps.movedim(dim, 0)[~border].flatten())
    return float(torch.cat(across).mean() / torch.cat(inside).mean())


@torch.no_grad()
def errors(
    model: JointDiT, clips: list[dict[str, torch.Tensor]], patch: int
) -> dict[str, list[float]]:
    """Per t: the MSE of x̂₀ for video and for audio, and the patch-border ratio of the
    video x̂₀ (`patch`: the model's video patch), each averaged over the clips."""
    out: dict[str, list[float]] = {}
    for t in TIMES:
        video_err, audio_err, borders = [], [], []
        for index, clip in enumerate(clips):
            ev, ea = noise(index, clip)
            x0v, x0a = clip["video"], clip["audio"]
            xv, xa = (1 - t) * x0v + t * ev, (1 - t) * x0a + t * ea
            cond = Conditioning(clip["text"], clip["text_mask"])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                vv, va = model(xv, xa, torch.tensor([t]), cond)
            estimate = xv - t * vv.float()
            video_err.append(mean_square(estimate - x0v))
            audio_err.append(mean_square(xa - t * va.float() - x0a))
            borders.append(border_ratio(estimate, patch))
        out[f"{t:g}"] = [sum(values) / len(clips) for values in (video_err, audio_err, borders)]
    return out


def baselines(
    clips: list[dict[str, torch.Tensor]], mean: torch.Tensor | None
) -> dict[str, dict[str, list[float]]]:
    """The peers' errors per t: the noisy input, zero and (given the training clips' mean)
    the per-position mean; the last two do not depend on t."""
    n = len(clips)
    zero = [sum(mean_square(c[kind]) for c in clips) / n for kind in ("video", "audio")]
    rows: dict[str, dict[str, list[float]]] = {
        "noisy input": {},
        "zero": {f"{t:g}": zero for t in TIMES},
    }
    if mean is not None:
        spread = sum(mean_square(mean - c["video"]) for c in clips) / n
        rows["per-position mean"] = {f"{t:g}": [spread, float("nan")] for t in TIMES}
    for t in TIMES:
        noisy_v, noisy_a = [], []
        for index, clip in enumerate(clips):
            ev, ea = noise(index, clip)
            noisy_v.append(mean_square(t * (ev - clip["video"])))
            noisy_a.append(mean_square(t * (ea - clip["audio"])))
        rows["noisy input"][f"{t:g}"] = [sum(noisy_v) / n, sum(noisy_a) / n]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="+", help="checkpoint directories, as DIR or NAME=DIR")
    parser.add_argument("--held-out", type=Path, default=Path("out/latents/heldout"))
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument(
        "--train-latents",
        type=Path,
        default=Path("out/latents/sim-4s-256x448"),
        help="training cache for the per-position mean (skipped if missing)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--no-write", action="store_true", help="leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    named = [w.split("=", 1) if "=" in w else [w, w] for w in args.weights]
    models = {name: load(path) for name, path in named}
    first = next(iter(models.values()))
    cache = held_out_cache(args.held_out, args.clips)
    windows = [window(cache, i, first.config) for i in range(len(cache))]
    # Every checkpoint normalises with its own statistics; baselines use the first's.
    clean = model_inputs(first, windows)
    rows = baselines(clean, position_mean(first, args.train_latents, 500))
    patch = first.config.video_patch
    data_border = sum(border_ratio(c["video"], patch) for c in clean) / len(clean)
    for name, model in models.items():
        rows[name] = errors(model, model_inputs(model, windows), model.config.video_patch)
        print(f"{name}: {rows[name]}", flush=True)

    header = " | ".join(f"t = {t:g}" for t in TIMES)
    shown = " ".join(f"'{w}'" if " " in w else w for w in args.weights)
    lines = [
        f"`benchmarks/dit_denoise.py {shown}`: {args.clips} held-out sim clips (seed 0 from "
        f"clip {HELD_OUT_FIRST}, first 2 s), mean squared error of the one-step clean "
        "estimate x_t − t·v̂ (caption, no guidance) in normalised latents, video (audio).",
        "",
        f"| estimate | {header} |",
        "|---|" + "---|" * len(TIMES),
    ]
    for name, by_t in rows.items():
        cells = []
        for t in TIMES:
            video, audio = by_t[f"{t:g}"][:2]
            cells.append(f"{video:.3f}" + ("" if audio != audio else f" ({audio:.3f})"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Patch-border ratio of x̂₀ (neighbouring latent pixels in different {patch} × "
        f"{patch} patches against neighbours inside one); the clean latents' own is "
        f"{data_border:.3f}.",
        "",
        f"| checkpoint | {header} |",
        "|---|" + "---|" * len(TIMES),
    ]
    for name in models:
        cells = [f"{rows[name][f'{t:g}'][2]:.3f}" for t in TIMES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.json:
        numbers = {"clean latents' patch-border ratio": data_border, **rows}
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    if not args.no_write:
        section = "\n".join([MARK_BEGIN, "### dit held-out denoising", "", *lines, "", MARK_END])
        write_section(MARK_BEGIN, MARK_END, section)


if __name__ == "__main__":
    try:
        main()
    except ReelforgeError as error:  # a bad path: one line, naming it
        raise SystemExit(f"dit_denoise: {error}") from None
