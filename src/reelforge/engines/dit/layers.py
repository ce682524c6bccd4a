"""Generic pieces shared by the dit engine's models: normalisation, channel shortcuts and
the diagonal-Gaussian posterior of the codecs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class ChannelRMSNorm(nn.Module):
    """RMS normalisation over the channel axis (dim 1) at every position.

    Per position, so it never mixes time steps (a causal model stays causal) and does not
    depend on the clip's size.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(dim=1, keepdim=True) + self.eps).to(x.dtype)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * scale * self.weight.view(shape)


def channel_shortcut(x: torch.Tensor, out_channels: int) -> torch.Tensor | None:
    """A parameter-free path from x's channels to `out_channels` (DC-AE's shortcut):
    group means when shrinking, repeats when growing; None when they do not divide."""
    in_channels = x.shape[1]
    if in_channels == out_channels:
        return x
    if in_channels % out_channels == 0:
        group = in_channels // out_channels
        return x.unflatten(1, (out_channels, group)).mean(dim=2)
    if out_channels % in_channels == 0:
        return x.repeat_interleave(out_channels // in_channels, dim=1)
    return None


@dataclass
class Posterior:
    mean: torch.Tensor
    logvar: torch.Tensor

    def sample(
        self, noise: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """mean + std · noise; noise drawn from `generator` unless given (the trainer
        passes each process its slice of one global draw, so DDP matches one process)."""
        if noise is None:
            noise = torch.randn(
                self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
            )
        return self.mean + torch.exp(0.5 * self.logvar) * noise.to(self.mean)

    def kl(self) -> torch.Tensor:
        """KL to the unit Gaussian, mean over every latent element."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).mean()
