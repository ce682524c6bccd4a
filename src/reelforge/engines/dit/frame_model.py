"""A frame-only diffusion transformer in pixel space, conditioned on the plan's tokens: issue
23 part 5's test of whether the chosen representation can be learned on two CPU cores.

Pixels at a low native size (64x112 by default) cut into 8x8 patches; the plan tokens
(plan_tokens.py) join the patch tokens in one attention sequence (each block attends over
both; only the patch tokens are read out); the noise level enters every block through
adaptive layer norm. The model predicts the clean frame (JiT, Li & He 2025: with 192 numbers
per token a network cannot represent noise, but clean images lie on a low-dimensional
manifold it can) and is trained with the velocity loss on the rectified-flow line
x_t = (1 - t) x_0 + t e (flow.py's convention). A 3x3 convolution after unpatchifying (the
conv head) smooths the seams between patches.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.engines.dit.flow import shift_time
from reelforge.engines.dit.plan_tokens import PlanEmbedding

__all__ = ["FrameConfig", "FrameDiT", "frame_loss", "sample_frames"]

MIN_T = 0.05  # the velocity from a clean prediction divides by t; clip it near the data


@dataclass(frozen=True)
class FrameConfig:
    height: int = 112
    width: int = 64
    patch: int = 8
    dim: int = 192
    depth: int = 6
    heads: int = 3
    mlp_ratio: float = 4.0
    shift: float = 3.0  # the noise schedule's shift towards noise (training and sampling)

    @property
    def grid(self) -> tuple[int, int]:
        return self.height // self.patch, self.width // self.patch

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _sincos(positions: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _grid_embedding(rows: int, cols: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine positions: half the channels for the row, half for the column."""
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    return torch.cat([_sincos(r.flatten(), dim // 2), _sincos(c.flatten(), dim // 2)], dim=1)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.RMSNorm(dim // heads)
        self.k_norm = nn.RMSNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)
        )
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(c)[:, None].chunk(6, dim=2)
        h = self.norm1(x) * (1 + scale1) + shift1
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v, attn_mask=keep)
        x = x + gate1 * self.proj(attn.transpose(1, 2).reshape(b, n, d))
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class FrameDiT(nn.Module):
    """(B, 3, H, W) noisy frames in [-1, 1], (B,) noise levels t and the plan → clean frames."""

    def __init__(self, cfg: FrameConfig):
        super().__init__()
        if cfg.height % cfg.patch or cfg.width % cfg.patch:
            raise ValueError(f"{cfg.width}x{cfg.height} is not a whole number of patches")
        self.cfg = cfg
        rows, cols = cfg.grid
        patch_values = 3 * cfg.patch * cfg.patch
        self.patch_in = nn.Linear(patch_values, cfg.dim)
        self.register_buffer("positions", _grid_embedding(rows, cols, cfg.dim), persistent=False)
        self.plan = PlanEmbedding(cfg.dim)
        self.time = nn.Sequential(nn.Linear(256, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim))
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)
        )
        self.final_norm = nn.LayerNorm(cfg.dim, elementwise_affine=False)
        self.final_modulation = nn.Linear(cfg.dim, 2 * cfg.dim)
        nn.init.zeros_(self.final_modulation.weight)
        nn.init.zeros_(self.final_modulation.bias)
        self.patch_out = nn.Linear(cfg.dim, patch_values)
        self.head = nn.Conv2d(3, 3, 3, padding=1)
        for parameter in self.head.parameters():  # starts as the identity (frame + 0)
            nn.init.zeros_(parameter)

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        plan: dict[str, torch.Tensor],
        *,
        drop_plan: torch.Tensor | None = None,
        drop_token: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        cfg = self.cfg
        b = x_t.shape[0]
        rows, cols = cfg.grid
        p = cfg.patch
        patches = (
            x_t.view(b, 3, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, -1)
        )
        image = self.patch_in(patches) + self.positions
        plan_tokens, plan_mask = self.plan(
            plan, drop_plan=drop_plan, drop_token=drop_token, generator=generator
        )
        x = torch.cat([image, plan_tokens], dim=1)
        keep = torch.cat(
            [torch.ones(b, rows * cols, dtype=torch.bool, device=x.device), plan_mask], 1
        )
        keep = keep[:, None, None, :]  # every query sees the patches and the plan's kept tokens
        c = self.time(_sincos(1000 * t, 256))
        for block in self.blocks:
            x = block(x, c, keep)
        shift, scale = self.final_modulation(c)[:, None].chunk(2, dim=2)
        out = self.patch_out(self.final_norm(x[:, : rows * cols]) * (1 + scale) + shift)
        frame = (
            out.view(b, rows, cols, 3, p, p)
            .permute(0, 3, 1, 4, 2, 5)
            .reshape(b, 3, cfg.height, cfg.width)
        )
        return frame + self.head(frame)


def frame_loss(
    model: FrameDiT,
    frames: torch.Tensor,
    plan: dict[str, torch.Tensor],
    generator: torch.Generator,
    *,
    drop_plan_rate: float = 0.1,
    drop_token_rate: float = 0.1,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The velocity loss of the clean-frame prediction at logit-normal noise levels, shifted
    towards noise by the config's shift. `weights` (B, 1, H, W): a training-time weight per
    pixel (the loss is their weighted mean), e.g. more on the objects than the sky."""
    b = frames.shape[0]
    u = torch.sigmoid(torch.randn(b, generator=generator))
    t = shift_time(u, model.cfg.shift)
    noise = torch.randn(frames.shape, generator=generator)
    tb = t.view(b, 1, 1, 1)
    x_t = (1 - tb) * frames + tb * noise
    drop = torch.rand(b, generator=generator) < drop_plan_rate
    clean = model(x_t, t, plan, drop_plan=drop, drop_token=drop_token_rate, generator=generator)
    velocity = (x_t - clean) / tb.clamp(min=MIN_T)
    if weights is None:
        return F.mse_loss(velocity, noise - frames)
    error = (velocity - (noise - frames)).pow(2).mean(dim=1, keepdim=True)
    return (weights * error).sum() / weights.sum()


@torch.no_grad()
def sample_frames(
    model: FrameDiT,
    plan: dict[str, torch.Tensor],
    generator: torch.Generator,
    *,
    steps: int = 40,
    guidance: float = 3.0,
) -> torch.Tensor:
    """Frames for a batch of plans: Euler steps from noise on the shifted schedule, with
    classifier-free guidance against the plan dropped. Returns (B, 3, H, W) in [-1, 1]."""
    cfg = model.cfg
    b = plan["kinds"].shape[0]
    x = torch.randn((b, 3, cfg.height, cfg.width), generator=generator)
    times = shift_time(torch.linspace(1.0, 0.0, steps + 1), cfg.shift)
    every = torch.zeros(b, dtype=torch.bool)
    none = torch.ones(b, dtype=torch.bool)
    for t, t_next in itertools.pairwise(times):
        tt = torch.full((b,), float(t))
        clean = model(x, tt, plan, drop_plan=every)
        if guidance != 1.0:
            free = model(x, tt, plan, drop_plan=none)
            clean = free + guidance * (clean - free)
        velocity = (x - clean) / max(float(t), MIN_T)
        x = x + (t_next - t) * velocity
    return x.clamp(-1, 1)
