"""Causal 3-D convolutional video VAE: frames (B, 3, 1 + 4k, H, W) ↔ latents
(B, latent_channels, 1 + k, H/8, W/8).

Reading order: how time and space fold into channels (`fold`, `unfold`), one residual
block, the encoder, the decoder, and the VAE that ties them together with chunked decoding.

Causality: the input is padded in front with three copies of frame 0, so latent frame 0
sees frame 0 alone and latent frame j sees frames 4j-3 .. 4j and, through causal temporal
convolutions, only earlier ones. No operation mixes positions across time except those
convolutions (normalisation is per position), so a frame's latent never depends on a
later frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.engines.dit.config import VideoVAEConfig
from reelforge.engines.dit.layers import ChannelRMSNorm, Posterior, channel_shortcut
from reelforge.errors import InvalidRequest


def fold(x: torch.Tensor, t: int, p: int) -> torch.Tensor:
    """Space-time to depth: (B, C, T, H, W) → (B, C·t·p·p, T/t, H/p, W/p)."""
    b, c, frames, h, w = x.shape
    x = x.reshape(b, c, frames // t, t, h // p, p, w // p, p)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6)  # (B, C, t, p, p, T/t, H/p, W/p)
    return x.reshape(b, c * t * p * p, frames // t, h // p, w // p)


def unfold(x: torch.Tensor, t: int, p: int) -> torch.Tensor:
    """Depth to space-time, the inverse of `fold`: (B, C·t·p·p, N, h, w) → (B, C, N·t, h·p, w·p)."""
    b, ctpp, n, h, w = x.shape
    c = ctpp // (t * p * p)
    x = x.reshape(b, c, t, p, p, n, h, w)
    x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, C, N, t, h, p, w, p)
    return x.reshape(b, c, n * t, h * p, w * p)


class Projection(nn.Module):
    """1×1×1 convolution plus the parameter-free channel shortcut where one exists."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 1)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = channel_shortcut(x, self.out_channels)
        y = self.conv(x)
        return y if shortcut is None else y + shortcut


class CausalBlock(nn.Module):
    """Residual block: a 3×3 spatial convolution then a causal temporal convolution."""

    def __init__(self, channels: int, temporal_kernel: int):
        super().__init__()
        self.norm1 = ChannelRMSNorm(channels)
        self.spatial = nn.Conv3d(channels, channels, (1, 3, 3), padding=(0, 1, 1))
        self.norm2 = ChannelRMSNorm(channels)
        self.temporal = nn.Conv3d(channels, channels, (temporal_kernel, 1, 1))
        self.pad_frames = temporal_kernel - 1
        nn.init.zeros_(self.temporal.weight)  # each block starts as the identity
        if self.temporal.bias is not None:
            nn.init.zeros_(self.temporal.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N, h, w)
        h = self.spatial(F.silu(self.norm1(x)))
        h = F.silu(self.norm2(h))
        h = F.pad(h, (0, 0, 0, 0, self.pad_frames, 0))  # zeros before the first frame only
        return x + self.temporal(h)


class Encoder(nn.Module):
    def __init__(self, config: VideoVAEConfig):
        super().__init__()
        c0, c1 = config.channels
        p, t = config.patch_size, config.frames_per_latent
        self.config = config
        self.stem = Projection(3 * t * p * p, c0)
        self.blocks0 = nn.Sequential(
            *[CausalBlock(c0, config.temporal_kernel) for _ in range(config.encoder_blocks[0])]
        )
        self.down = Projection(4 * c0, c1)
        self.blocks1 = nn.Sequential(
            *[CausalBlock(c1, config.temporal_kernel) for _ in range(config.encoder_blocks[1])]
        )
        self.norm = ChannelRMSNorm(c1)
        self.head = nn.Conv3d(c1, 2 * config.latent_channels, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, 3, 1 + 4k, H, W) in [-1, 1] → mean, logvar (B, z, 1 + k, H/8, W/8)."""
        t, p = self.config.frames_per_latent, self.config.patch_size
        first = frames[:, :, :1].expand(-1, -1, t - 1, -1, -1)
        x = torch.cat([first, frames], dim=2)  # (B, 3, 4(k+1), H, W): frame 0 alone in group 0
        x = self.stem(fold(x, t, p))  # (B, c0, 1 + k, H/p, W/p)
        x = self.blocks0(x)
        x = self.down(fold(x, 1, 2))  # (B, c1, 1 + k, H/2p, W/2p)
        x = self.blocks1(x)
        moments = self.head(F.silu(self.norm(x)))  # (B, 2z, 1 + k, H/8, W/8)
        mean, logvar = moments.chunk(2, dim=1)
        shortcut = channel_shortcut(x, self.config.latent_channels)
        if shortcut is not None:
            mean = mean + shortcut
        return mean, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    def __init__(self, config: VideoVAEConfig):
        super().__init__()
        c0, c1 = config.channels
        p, t = config.patch_size, config.frames_per_latent
        self.config = config
        self.stem = Projection(config.latent_channels, c1)
        self.blocks1 = nn.Sequential(
            *[CausalBlock(c1, config.temporal_kernel) for _ in range(config.decoder_blocks[1])]
        )
        self.up = Projection(c1, 4 * c0)
        self.blocks0 = nn.Sequential(
            *[CausalBlock(c0, config.temporal_kernel) for _ in range(config.decoder_blocks[0])]
        )
        self.norm = ChannelRMSNorm(c0)
        self.head = Projection(c0, 3 * t * p * p)

    @property
    def receptive_latents(self) -> int:
        """How many earlier latent frames one output frame can see."""
        return (self.config.temporal_kernel - 1) * sum(self.config.decoder_blocks)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, z, N, h, w) → frames (B, 3, 4N, 8h, 8w), padding frames included."""
        t, p = self.config.frames_per_latent, self.config.patch_size
        x = self.blocks1(self.stem(latents))  # (B, c1, N, h, w)
        x = unfold(self.up(x), 1, 2)  # (B, c0, N, 2h, 2w)
        x = self.blocks0(x)
        x = self.head(F.silu(self.norm(x)))  # (B, 3·t·p·p, N, 2h, 2w)
        return unfold(x, t, p)  # (B, 3, 4N, 8h, 8w)


class VideoVAE(nn.Module):
    def __init__(self, config: VideoVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def check_frames(self, frames: torch.Tensor) -> None:
        if frames.dim() != 5 or frames.shape[1] != 3:
            raise InvalidRequest(
                f"frames must be (B, 3, T, H, W), got {tuple(frames.shape)}", param="frames"
            )
        t, s = self.config.frames_per_latent, self.config.spatial_compression
        _, _, count, height, width = frames.shape
        if (count - 1) % t:
            raise InvalidRequest(f"frames must number 1 + {t}k, got {count}", param="frames")
        if height % s or width % s:
            raise InvalidRequest(
                f"frame size must be a multiple of {s}, got {width}x{height}", param="frames"
            )

    def encode(self, frames: torch.Tensor) -> Posterior:
        """frames (B, 3, 1 + 4k, H, W) in [-1, 1] → posterior over (B, z, 1 + k, H/8, W/8)."""
        self.check_frames(frames)
        return Posterior(*self.encoder(frames))

    def decode(self, latents: torch.Tensor, chunk_latents: int | None = None) -> torch.Tensor:
        """latents (B, z, 1 + k, h, w) → frames (B, 3, 1 + 4k, 8h, 8w), about [-1, 1].

        With `chunk_latents`, decodes that many latent frames at a time, each chunk with
        enough earlier latents in front to fill the decoder's receptive field, so the
        result equals whole-clip decoding while memory stays bounded.
        """
        t = self.config.frames_per_latent
        count = latents.shape[2]
        if chunk_latents is None or chunk_latents >= count:
            return self.decoder(latents)[:, :, t - 1 :]
        context = self.decoder.receptive_latents
        pieces = []
        for start in range(0, count, chunk_latents):
            first = max(0, start - context)
            out = self.decoder(latents[:, :, first : start + chunk_latents])
            drop = (start - first) * t if start else t - 1  # context frames, or the padding
            pieces.append(out[:, :, drop:])
        return torch.cat(pieces, dim=2)

    def latent_shape(self, frames_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(B, 3, 1 + 4k, H, W) → (B, z, 1 + k, H/8, W/8)."""
        b, _, count, height, width = frames_shape
        t, s = self.config.frames_per_latent, self.config.spatial_compression
        return (b, self.config.latent_channels, 1 + (count - 1) // t, height // s, width // s)

    def forward(
        self, frames: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Posterior]:
        """Training pass: encode, sample the posterior (with `noise` if given), decode."""
        posterior = self.encode(frames)
        return self.decode(posterior.sample(noise)), posterior


def frames_to_tensor(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, H, W) in [-1, 1]."""
    return frames.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def tensor_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float (B, 3, T, H, W) in [-1, 1] → uint8 (B, T, H, W, 3), rounded and clipped."""
    return x.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 4, 1)
