"""The shipped codecs behind one clip-level interface: uint8 frames and 16 kHz samples in,
latents out, and back. The benchmark, latent caching and (later) the dit engine use it.

Inference runs in bfloat16 where the hardware has it (GPUs; CPUs with AVX-512 BF16 or
AMX, where the convolutions run about twice as fast as in float32: `inference_dtype`),
in float32 elsewhere.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reelforge.engines.dit.audio_codec import AudioCodec
from reelforge.engines.dit.checkpoint import from_pretrained
from reelforge.engines.dit.video_vae import VideoVAE, frames_to_tensor, tensor_to_frames
from reelforge.errors import ConfigError, InvalidRequest

CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[4] / "weights"
INSTALLED_WEIGHTS = Path(sys.prefix) / "share" / "reelforge" / "weights"


def shipped_weights_dir(
    checkout: Path = CHECKOUT_WEIGHTS, installed: Path = INSTALLED_WEIGHTS
) -> Path:
    """The shipped weights: weights/ of a source checkout (an editable install), else where
    an installed wheel put them (pyproject's data-files: <prefix>/share/reelforge/weights)."""
    return checkout if (checkout / "dit").is_dir() else installed


WEIGHTS_DIR = shipped_weights_dir()  # pass a path to use other weights
DECODE_CHUNK_LATENTS = 16  # latent frames per decoder call: bounded memory for long clips


def inference_dtype(device: torch.device | str = "cpu") -> torch.dtype:
    """bfloat16 on a GPU and on a CPU with native bfloat16 (AVX-512 BF16, AMX); float32
    on any other CPU, where bfloat16 is emulated: one Conv3d of the video decoder took
    12 s in bfloat16 against 0.018 s in float32 on an AVX2 machine, and a 1 s dit clip
    41 s against (docs/DIT.md)."""
    if torch.device(device).type != "cpu":
        return torch.bfloat16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


@dataclass
class CodecPair:
    video: VideoVAE
    audio: AudioCodec
    dtype: torch.dtype = torch.bfloat16

    @classmethod
    def from_pretrained(
        cls,
        video_dir: Path = WEIGHTS_DIR / "video-vae",
        audio_dir: Path = WEIGHTS_DIR / "audio-codec",
        dtype: torch.dtype | None = None,
    ) -> CodecPair:
        video, audio = from_pretrained(video_dir), from_pretrained(audio_dir)
        if not isinstance(video, VideoVAE) or not isinstance(audio, AudioCodec):
            raise ConfigError(
                f"expected a video VAE in {str(video_dir)!r} and an audio codec in "
                f"{str(audio_dir)!r}",
                param="path",
            )
        dtype = dtype or inference_dtype()
        return cls(video.to(dtype), audio, dtype)  # the audio codec is cheap: float32

    @property
    def device(self) -> torch.device:
        return next(self.video.parameters()).device

    def to(self, device: torch.device | str) -> CodecPair:
        """Both codecs on `device`; inputs may stay on the CPU, outputs come back there."""
        self.video.to(device)
        self.audio.to(device)
        return self

    @torch.no_grad()
    def encode_video(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) → latents (z, 1 + ceil((T - 1) / 4), H/8, W/8), float32.

        T need not be 1 + 4k: the last frame is repeated up to the next such count, and
        `decode_video(..., frames=T)` cuts the repeats off again.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InvalidRequest(
                f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}",
                param="frames",
            )
        step = self.video.config.frames_per_latent
        missing = (-(len(frames) - 1)) % step
        if missing:
            frames = np.concatenate([frames, np.repeat(frames[-1:], missing, axis=0)])
        x = torch.from_numpy(np.require(frames, requirements=["C", "W"]))[None].to(self.device)
        x = frames_to_tensor(x)
        return self.video.encode(x.to(self.dtype)).mean[0].float().cpu()

    @torch.no_grad()
    def decode_video(self, latents: torch.Tensor, frames: int | None = None) -> np.ndarray:
        """latents (z, N, h, w) → uint8 (T, 8h, 8w, 3), T = 1 + 4(N - 1) or `frames`."""
        x = self.video.decode(
            latents[None].to(self.device, self.dtype), chunk_latents=DECODE_CHUNK_LATENTS
        )
        out = tensor_to_frames(x.float())[0].cpu().numpy()
        return out if frames is None else out[:frames]

    @torch.no_grad()
    def encode_audio(self, samples: np.ndarray) -> torch.Tensor:
        """float32 (S,) mono at 16 kHz → latents (z, ceil(S / 320))."""
        if samples.ndim != 1:
            raise InvalidRequest(
                f"audio must be mono (S,), got shape {samples.shape}", param="audio"
            )
        waveform = torch.from_numpy(samples.astype(np.float32))[None].to(self.device)
        return self.audio.encode(waveform).mean[0].cpu()

    @torch.no_grad()
    def decode_audio(self, latents: torch.Tensor, samples: int | None = None) -> np.ndarray:
        """latents (z, M) → float32 (S,) at 16 kHz, S = 320·M or `samples`."""
        waveform = self.audio.decode(latents[None].to(self.device).float(), samples)[0]
        return waveform.clamp(-1.0, 1.0).cpu().numpy()
