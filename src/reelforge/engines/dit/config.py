"""Typed configs for the dit engine's codecs and their training, with named presets.

One dataclass per model plus one for a training run; `PRESETS[target][name]` is what
`reelforge train TARGET --config NAME` runs. The defaults of the `cpu` presets reproduce
the shipped weights in weights/ (see docs/TRAINING.md); `tiny` is for tests; `full` is
for a GPU machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reelforge.errors import ConfigError, InvalidRequest

Target = Literal["vae", "audio", "dit"]
TARGETS: tuple[Target, ...] = ("vae", "audio", "dit")


@dataclass(frozen=True)
class VideoVAEConfig:
    """Causal 3-D convolutional video VAE.

    Frames (B, 3, T, H, W) with T = 1 + 4k become latents (B, latent_channels, 1 + k,
    H / 8, W / 8): the first frame on its own, then one latent frame per 4 frames.
    Time (4) and space (patch_size) are folded into channels first, then one stride-2
    spatial stage reaches the latent grid.
    """

    latent_channels: int = 16
    patch_size: int = 4  # space-to-depth at the input; the latent grid is 2 × this
    frames_per_latent: int = 4
    channels: tuple[int, int] = (32, 128)  # at H/patch and at H/(2·patch)
    encoder_blocks: tuple[int, int] = (1, 2)
    decoder_blocks: tuple[int, int] = (2, 3)
    temporal_kernel: int = 3  # causal, in latent frames

    @property
    def spatial_compression(self) -> int:
        return 2 * self.patch_size


@dataclass(frozen=True)
class AudioCodecConfig:
    """STFT-domain audio VAE at 16 kHz: spectral frames (n_fft, hop) → latents at
    sample_rate / (hop · time_stride) per second → complex spectrum → inverse STFT."""

    sample_rate: int = 16_000
    n_fft: int = 640
    hop: int = 160  # 100 spectral frames per second
    time_stride: int = 2  # 50 latents per second
    latent_channels: int = 32
    width: int = 256
    encoder_blocks: int = 3
    decoder_blocks: int = 6
    kernel: int = 7

    @property
    def latents_per_second(self) -> float:
        return self.sample_rate / (self.hop * self.time_stride)


@dataclass(frozen=True)
class DiTConfig:
    """Joint audio-video diffusion transformer (model.py).

    One stream of tokens — text, video patches, audio patches and cameo references —
    through `depth` blocks of joint self-attention. Video latents (video_channels, N, h, w)
    are cut into (1, p, p) patches, audio latents (audio_channels, M) into runs of
    `audio_patch`. Rotary positions: the first `time_pairs` frequency pairs of each head
    carry the token's time in seconds (video and audio alike), the rest its (y, x)
    patch position.
    """

    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    video_channels: int = 16
    video_patch: int = 4  # spatial patch over the latent grid (time patch is 1)
    frames_per_latent: int = 4
    audio_channels: int = 32
    audio_patch: int = 2
    audio_latents_per_second: float = 50.0
    text_dim: int = 384  # all-MiniLM-L6-v2 token states
    max_text_tokens: int = 48
    time_pairs: int = 16  # rotary frequency pairs for time (the rest split over y and x)
    time_min_hz: float = 0.05  # rotary frequencies for time, in cycles per second
    time_max_hz: float = 12.5  # half the audio token rate: sharper than any latent
    space_theta: float = 100.0
    reference_time_s: float = -1.0  # cameo reference tokens sit before the clip starts
    # Absolute place in the frame: Fourier features (this many frequencies per axis) of a
    # patch's (y, x) ∈ (0, 1), projected and added to video tokens. 0: rotary positions
    # alone (relative), which is how the first shipped checkpoint was trained.
    frame_frequencies: int = 0
    # The velocity is predicted as c(t)·x_t + the network's output, with c(t) the best
    # linear guess for unit-variance latents on the noisy half (model.skip_scale): at
    # t = 1 the input is the noise itself, and the network need not learn to copy it.
    velocity_skip: bool = False
    # A spatial video head next to the per-token projection: each token also emits this
    # many feature channels per latent pixel, laid out on the latent grid, and a 3 × 3
    # convolution over that map adds to the velocity, so a token's output can follow its
    # neighbours' across the patch border (U-ViT's final convolution, on features). It
    # starts at zero. 0: per-token projections alone, whose outputs meet at hard edges
    # every `video_patch` latents (the 32 px tiles of the first checkpoints).
    conv_head: int = 0

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


@dataclass(frozen=True)
class FlowConfig:
    """Rectified flow: x_t = (1 - t) x_0 + t ε, the model predicts ε - x_0."""

    logit_mean: float = 0.0
    logit_std: float = 1.0
    # This share of training timesteps is drawn from U(0.9, 1) instead: under the
    # logit-normal alone about 2 % land there, yet sampling starts at t = 1 and its first
    # steps lay out the scene. 0 keeps the draws of runs made before it existed.
    high_noise_rate: float = 0.0
    shift_base_tokens: int = 1024  # shift = sqrt(tokens / base): more tokens, noisier t
    max_shift: float = 3.0
    caption_dropout: float = 0.1  # classifier-free guidance: some captions are dropped
    first_frame_rate: float = 0.25  # image-to-video: the first latent frame given clean
    reference_rate: float = 0.5  # cameo references attached to clips with a character
    audio_weight: float = 1.0
    steps: int = 16
    video_guidance: float = 4.0
    audio_guidance: float = 3.0


@dataclass(frozen=True)
class TrainConfig:
    """One training run: data, optimisation, logging and checkpoints."""

    steps: int = 1000
    batch_size: int = 8  # global, across all processes
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    workers: int = 1  # data worker processes per training process
    clip_seconds: float = 3.0  # rendered (or read) clips; samples are cut from them
    reuse_clips: int = 8  # each clip serves this many consecutive steps (rendering is slow)
    # Video samples: crops of sim clips rendered at one of the native sizes.
    clip_frames: int = 17  # 1 + 4k
    crop_px: int = 128  # square spatial crop; 0 = whole frame
    # Audio samples: mono 16 kHz segments of sim clips.
    audio_seconds: float = 1.0
    # Loss weights.
    kl_weight: float = 1e-6
    frequency_weight: float = 0.1  # video: L1 of 2-D spectra
    waveform_weight: float = 0.1  # audio: L1 of samples next to the multi-resolution STFT
    log_every: int = 10
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    max_shard_mib: float = 15.0
    parallel: Literal["ddp", "fsdp"] = "ddp"  # fsdp needs GPUs; ddp runs anywhere
    # dit: the latent cache holds `latent_clips` clips of clip_seconds; a step trains on
    # the first window_seconds of each.
    latent_clips: int = 0
    window_seconds: float = 2.0
    cache_workers: int = 1  # processes filling the latent cache (codecs on the GPU if any)
    # Train only the parameters whose names start with one of these (a new head on top of
    # a trained model started with --init); empty: all of them.
    trainable: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig:
    """Everything a `reelforge train` run needs; written to config.json in the run dir."""

    target: Target
    name: str
    train: TrainConfig
    video: VideoVAEConfig = field(default_factory=VideoVAEConfig)
    audio: AudioCodecConfig = field(default_factory=AudioCodecConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RunConfig:
        return RunConfig(
            target=data["target"],
            name=data["name"],
            train=build_dataclass(TrainConfig, data["train"]),
            video=build_dataclass(VideoVAEConfig, data["video"]),
            audio=build_dataclass(AudioCodecConfig, data["audio"]),
            dit=build_dataclass(DiTConfig, data.get("dit", {})),
            flow=build_dataclass(FlowConfig, data.get("flow", {})),
        )


def build_dataclass(kind: type[Any], values: dict[str, Any]) -> Any:
    """A dataclass from JSON values (lists become the tuples the fields declare)."""
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{kind.__name__} has no field {unknown[0]!r}", param=unknown[0])
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# ---------------------------------------------------------------------------------------
# Presets. tiny: seconds on a laptop core (tests). cpu: what two CPU cores train in about
# half an hour per codec (the shipped weights). full: a GPU machine.

TINY_VIDEO = VideoVAEConfig(
    latent_channels=4, patch_size=4, channels=(8, 16), encoder_blocks=(1, 1), decoder_blocks=(1, 1)
)
TINY_AUDIO = AudioCodecConfig(
    n_fft=256, hop=80, latent_channels=8, width=32, encoder_blocks=1, decoder_blocks=1
)
TINY_DIT = DiTConfig(
    width=32,
    depth=2,
    heads=2,
    video_channels=4,
    video_patch=2,
    audio_channels=8,
    max_text_tokens=8,
    time_pairs=4,
    audio_latents_per_second=100.0,
    frame_frequencies=2,
    velocity_skip=True,
)
TINY_TRAIN = TrainConfig(
    steps=4,
    batch_size=2,
    warmup_steps=1,
    workers=0,
    clip_seconds=0.5,
    reuse_clips=2,
    clip_frames=5,
    crop_px=32,
    audio_seconds=0.5,
    log_every=1,
    checkpoint_every=2,
)

# The dit presets' flow: a tenth of the timesteps near pure noise (FlowConfig).
DIT_FLOW = FlowConfig(high_noise_rate=0.1)

CPU_DIT_TRAIN = TrainConfig(
    steps=1000,
    batch_size=4,
    lr=5e-4,
    warmup_steps=30,
    ema_decay=0.995,
    clip_seconds=4.0,
    window_seconds=2.0,
    latent_clips=500,
    log_every=5,
    checkpoint_every=50,
)
CPU_DIT = DiTConfig(width=256, depth=6, heads=4, frame_frequencies=8, velocity_skip=True)
CPU_DIT_HEAD = dataclasses.replace(CPU_DIT, conv_head=32)

PRESETS: dict[Target, dict[str, RunConfig]] = {
    "vae": {
        "tiny": RunConfig("vae", "tiny", TINY_TRAIN, video=TINY_VIDEO),
        "cpu": RunConfig(
            "vae",
            "cpu",
            TrainConfig(
                steps=2500,
                batch_size=4,
                lr=1e-3,
                clip_frames=9,
                crop_px=128,
                reuse_clips=16,
                checkpoint_every=200,
            ),
        ),
        "full": RunConfig(
            "vae",
            "full",
            TrainConfig(steps=100_000, batch_size=32, lr=3e-4, workers=8, crop_px=256),
            video=VideoVAEConfig(channels=(128, 256), encoder_blocks=(2, 3), decoder_blocks=(3, 6)),
        ),
    },
    "audio": {
        "tiny": RunConfig("audio", "tiny", TINY_TRAIN, audio=TINY_AUDIO),
        "cpu": RunConfig(
            "audio",
            "cpu",
            TrainConfig(steps=2000, batch_size=8, lr=1e-3, reuse_clips=32, checkpoint_every=200),
        ),
        "full": RunConfig(
            "audio",
            "full",
            TrainConfig(steps=100_000, batch_size=64, lr=3e-4, workers=8),
            audio=AudioCodecConfig(width=512, encoder_blocks=4, decoder_blocks=8),
        ),
    },
    "dit": {
        "tiny": RunConfig(
            "dit",
            "tiny",
            dataclasses.replace(
                TINY_TRAIN, clip_seconds=0.5, window_seconds=0.3, latent_clips=4, batch_size=2
            ),
            video=TINY_VIDEO,
            audio=TINY_AUDIO,
            dit=TINY_DIT,
        ),
        "cpu": RunConfig(
            "dit",
            "cpu",
            CPU_DIT_TRAIN,
            dit=CPU_DIT,
            flow=DIT_FLOW,
        ),
        # A spatial video head (DiTConfig.conv_head) trained on top of the cpu preset's
        # weights, which stay frozen: `--init` a cpu run's export (docs/DIT.md).
        "cpu-head": RunConfig(
            "dit",
            "cpu-head",
            dataclasses.replace(  # the cpu run's data, a short schedule for the head alone
                CPU_DIT_TRAIN,
                steps=300,
                lr=1e-3,
                warmup_steps=10,
                ema_decay=0.99,
                trainable=("video_features", "video_conv"),
            ),
            dit=CPU_DIT_HEAD,
            flow=DIT_FLOW,
        ),
        # The shipped size, trained on one H200 (docs/DIT.md): 11.4 M parameters, 23 MB in
        # bf16, about twice the cpu preset's work per token.
        "h200": RunConfig(
            "dit",
            "h200",
            TrainConfig(
                steps=5000,
                batch_size=64,
                lr=5e-4,
                warmup_steps=300,
                ema_decay=0.999,
                workers=12,
                clip_seconds=4.0,
                window_seconds=2.0,
                latent_clips=4000,
                cache_workers=14,
                log_every=25,
                checkpoint_every=500,
            ),
            dit=DiTConfig(
                width=320, depth=8, heads=5, frame_frequencies=8, velocity_skip=True, conv_head=32
            ),
            flow=DIT_FLOW,
        ),
        "full": RunConfig(
            "dit",
            "full",
            TrainConfig(
                steps=200_000,
                batch_size=64,
                lr=2e-4,
                warmup_steps=1000,
                ema_decay=0.9999,
                workers=8,
                clip_seconds=10.0,
                window_seconds=10.0,
                latent_clips=200_000,
                checkpoint_every=2000,
            ),
            dit=DiTConfig(
                width=1024,
                depth=24,
                heads=16,
                video_patch=2,
                time_pairs=16,
                frame_frequencies=8,
                velocity_skip=True,
                conv_head=32,
            ),
            flow=DIT_FLOW,
        ),
    },
}


def preset(target: str, name: str) -> RunConfig:
    """The named preset; bad names fail with the choices, naming the field."""
    if target not in TARGETS:
        raise InvalidRequest(
            f"target must be one of {', '.join(TARGETS)}, got {target!r}", param="target"
        )
    choices = PRESETS[target]
    if name not in choices:
        raise InvalidRequest(
            f"config must be one of {', '.join(choices)}, got {name!r}", param="config"
        )
    return choices[name]


def load_run_config(path: Path) -> RunConfig:
    if not path.is_file():
        raise ConfigError(f"config {str(path)!r} does not exist", param="config")
    return RunConfig.from_dict(json.loads(path.read_text()))


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The `reelforge train` arguments (here, not in train.py, so the CLI can build its
    parser without importing torch)."""
    parser.add_argument("target", help="vae (video VAE), audio (audio codec) or dit")
    parser.add_argument(
        "--config", default="cpu", help="preset: tiny, cpu, cpu-head (dit), h200 (dit) or full"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="run directory (default out/train/TARGET-CONFIG)"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="folder of MP4s with captions.jsonl (default: sim)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these weights (a saved model directory such as weights/dit); "
        "modules they lack keep their zero-output initialisation",
    )
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument(
        "--stop-at",
        type=int,
        default=None,
        help="stop (with a checkpoint) after this step, keeping the schedule of --steps; "
        "--resume continues",
    )
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop like --stop-at after this long"
    )
    parser.add_argument("--export", type=Path, default=None, help="write bf16 EMA weights here")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument(
        "--latents",
        type=Path,
        default=None,
        help="dit: latent cache directory (default out/latents/CONFIG-SECONDS s; filled first)",
    )
