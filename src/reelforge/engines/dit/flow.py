"""Rectified flow for the joint model: the training objective and the Euler sampler.

x_t = (1 − t)·x₀ + t·ε joins data (t = 0) to noise (t = 1) on a straight line; the model
learns the velocity ε − x₀. Training draws t from a logit-normal shifted towards noise by
`shift = sqrt(tokens / base)` (more tokens carry more redundancy, so a given t destroys
less; SD3's resolution shift), and a share `high_noise_rate` of them from U(0.9, 1): the
logit-normal seldom comes near t = 1, where sampling starts and the scene is laid out.
Sampling walks the same shifted schedule from t = 1 to 0 with Euler steps
x ← x + (t_next − t)·v, with classifier-free guidance whose scale is separate for video
and for audio.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reelforge.engines.dit.config import FlowConfig
from reelforge.engines.dit.model import Conditioning, JointDiT
from reelforge.errors import Cancelled

HIGH_NOISE_BAND = 0.1  # FlowConfig.high_noise_rate draws t from U(1 − this, 1)


def shift_for(tokens: int, cfg: FlowConfig) -> float:
    return min(cfg.max_shift, max(1.0, math.sqrt(tokens / cfg.shift_base_tokens)))


def shift_time(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Warp t ∈ [0, 1] towards 1 (noise): s·t / (1 + (s − 1)·t); 0 and 1 stay put."""
    return shift * t / (1 + (shift - 1) * t)


def training_timesteps(
    batch: int, tokens: int, cfg: FlowConfig, generator: torch.Generator
) -> torch.Tensor:
    device = generator.device
    normal = torch.randn(batch, generator=generator, device=device)
    u = torch.sigmoid(cfg.logit_mean + cfg.logit_std * normal)
    t = shift_time(u, shift_for(tokens, cfg))
    if cfg.high_noise_rate > 0:  # drawn only then: runs without keep their exact draws
        coins, high = torch.rand((2, batch), generator=generator, device=device)
        t = torch.where(coins < cfg.high_noise_rate, 1 - HIGH_NOISE_BAND * high, t)
    return t


def sampling_schedule(steps: int, tokens: int, cfg: FlowConfig) -> torch.Tensor:
    """steps + 1 times from 1 to 0, on the shifted schedule training used."""
    return shift_time(
        torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift_for(tokens, cfg)
    )


# ---------------------------------------------------------------------------------------
# Training


@dataclass
class FlowLoss:
    loss: torch.Tensor
    video: torch.Tensor
    audio: torch.Tensor


@dataclass
class Draws:
    """The randomness of one training step: timesteps, noise, which captions are dropped
    and which clips are given their first frame. Drawn for the whole global batch from a
    generator seeded by the step, then sliced per process, so W processes follow exactly
    the trajectory of one (and a resumed run the one it left)."""

    t: torch.Tensor  # (B,)
    noise_video: torch.Tensor
    noise_audio: torch.Tensor
    drop_caption: torch.Tensor  # (B,) bool
    first_frame: torch.Tensor  # (B,) bool
    use_refs: torch.Tensor  # (B,) bool

    def slice(self, start: int, stop: int) -> Draws:
        return Draws(*(getattr(self, f)[start:stop] for f in self.__dataclass_fields__))


def draw(
    batch: int,
    video_shape: tuple[int, ...],  # (Cv, N, h, w)
    audio_shape: tuple[int, ...],  # (Ca, M)
    tokens: int,
    cfg: FlowConfig,
    generator: torch.Generator,
) -> Draws:
    device = generator.device  # a CUDA generator draws on the GPU: no host-side noise
    t = training_timesteps(batch, tokens, cfg, generator)
    noise_v = torch.randn((batch, *video_shape), generator=generator, device=device)
    noise_a = torch.randn((batch, *audio_shape), generator=generator, device=device)
    coins = torch.rand((3, batch), generator=generator, device=device)
    return Draws(
        t,
        noise_v,
        noise_a,
        coins[0] < cfg.caption_dropout,
        coins[1] < cfg.first_frame_rate,
        coins[2] < cfg.reference_rate,
    )


def flow_loss(
    model: torch.nn.Module,
    video: torch.Tensor,  # (B, Cv, N, h, w) clean, normalised
    audio: torch.Tensor,  # (B, Ca, M) clean, normalised
    cond: Conditioning,
    cfg: FlowConfig,
    draws: Draws,
) -> FlowLoss:
    """Mean squared velocity error, video and audio each averaged over their own
    elements. Latent frame 0 is left out of the video term where it was given clean."""
    b = video.shape[0]
    t = draws.t.to(video.device)
    noise_v, noise_a = draws.noise_video.to(video.device), draws.noise_audio.to(video.device)
    tv = t.view(b, 1, 1, 1, 1)
    ta = t.view(b, 1, 1)
    noisy_v = (1 - tv) * video + tv * noise_v
    noisy_a = (1 - ta) * audio + ta * noise_a
    pred_v, pred_a = model(noisy_v, noisy_a, t, cond)
    err_v = (pred_v.float() - (noise_v - video)).pow(2)
    if cond.first_frame is not None:
        keep = torch.ones_like(err_v)
        given = cond.given_first_frame(b, video.device)
        keep[:, :, :1] = (~given).float().view(b, 1, 1, 1, 1)
        loss_v = (err_v * keep).sum() / keep.sum().clamp(min=1)
    else:
        loss_v = err_v.mean()
    loss_a = F.mse_loss(pred_a.float(), noise_a - audio)
    return FlowLoss(loss_v + cfg.audio_weight * loss_a, loss_v.detach(), loss_a.detach())


# ---------------------------------------------------------------------------------------
# Sampling


@dataclass(frozen=True)
class Guidance:
    video: float = 4.0
    audio: float = 3.0

    @property
    def active(self) -> bool:
        return self.video != 1.0 or self.audio != 1.0


def euler_step(x: torch.Tensor, v: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One step of dx/dt = v from t to t_next (t_next < t: towards the data)."""
    return x + (t_next - t) * v


def guided(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return uncond + scale * (cond - uncond)


@torch.no_grad()
def sample(
    model: JointDiT,
    cond: Conditioning,
    *,
    video_shape: tuple[int, int, int, int],  # (Cv, N, h, w)
    audio_shape: tuple[int, int],  # (Ca, M)
    steps: int,
    flow: FlowConfig,
    guidance: Guidance,
    generator: torch.Generator,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Euler from noise to latents (normalised space); B = cond.text.shape[0].

    `cancelled` is asked before every step: a request to stop is honoured within one
    model evaluation (it raises `Cancelled`). `progress(step, steps)` after each.
    """
    b = cond.text.shape[0]
    device = model.video_in.weight.device
    x_v = torch.randn((b, *video_shape), generator=generator).to(device)
    x_a = torch.randn((b, *audio_shape), generator=generator).to(device)
    if cond.first_frame is not None:
        x_v[:, :, :1] = cond.first_frame.to(device)
    tokens = model.token_count(tuple(video_shape[1:]), audio_shape[1])  # type: ignore[arg-type]
    schedule = sampling_schedule(steps, tokens, flow).tolist()
    batch_cond = cond
    if guidance.active:  # one forward for the caption and the empty caption together
        batch_cond = cond.repeat(2)  # new tensors: the second half's captions masked out
        batch_cond.text_mask[b:] = False
    for i in range(steps):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled at denoising step {i + 1} of {steps}")
        t, t_next = schedule[i], schedule[i + 1]
        inputs_v = torch.cat([x_v, x_v]) if guidance.active else x_v
        inputs_a = torch.cat([x_a, x_a]) if guidance.active else x_a
        time = torch.full((inputs_v.shape[0],), t, device=device)
        v_v, v_a = model(inputs_v, inputs_a, time, batch_cond)
        if guidance.active:
            v_v = guided(v_v[:b], v_v[b:], guidance.video)
            v_a = guided(v_a[:b], v_a[b:], guidance.audio)
        x_v = euler_step(x_v, v_v, t, t_next)
        x_a = euler_step(x_a, v_a, t, t_next)
        if cond.first_frame is not None:  # the given frame stays exactly as given
            given = cond.given_first_frame(b, device)
            x_v[:, :, :1] = torch.where(
                given.view(b, 1, 1, 1, 1), cond.first_frame.to(device), x_v[:, :, :1]
            )
        if progress is not None:
            progress(i + 1, steps)
    return x_v, x_a
