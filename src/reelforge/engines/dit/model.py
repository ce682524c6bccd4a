"""The joint audio-video diffusion transformer: one stream of tokens, one attention.

Reading order:
1. Tokens. Text (per-token states of the frozen all-MiniLM-L6-v2), video latent patches
   (1 × p × p over the VAE's latent grid), audio latent patches (runs of `audio_patch`
   codec latents) and, for cameos, reference tokens (a character's appearance image
   through the same VAE, a voice sample through the same codec). Each kind has its own
   input projection and a learned kind embedding.
2. Positions. Rotary embeddings on queries and keys. The first `time_pairs` frequency
   pairs of every head turn with the token's *time in seconds* — the same function for
   video and audio, so a sound and the frame it belongs to share their temporal phase and
   attention sees their offset in seconds, whatever the two latent rates are. The other
   pairs carry the patch's (y, x); audio and text leave them at zero. Rotary positions
   are relative, so video tokens also get an embedding of their absolute place in the
   frame (`frame_features`): from pure noise that is all that tells the top from the
   bottom.
3. Blocks. Joint self-attention over every token (text, video, audio, references), then
   an MLP; QK-norm; `scaled_dot_product_attention`. Timestep conditioning is adaLN-Zero in
   its adaLN-single form (PixArt-α): one MLP turns the timestep embedding into shift,
   scale and gate for the whole network, each block adds its own learned offset and each
   token kind its own, and everything that writes to the residual starts at zero.
   Clean tokens (a given first frame, references) are modulated with t = 0.
4. Heads. Per kind a final modulated norm and a zero-initialised projection back to
   patches (for video optionally also a feature map on the latent grid through a 3 × 3
   convolution, `conv_head`, so outputs can cross patch borders): the model predicts the
   rectified-flow velocity ε − x₀ for video and audio, on top of the best linear guess
   c(t)·x_t (`skip_scale`), so an untrained model is already the linear denoiser and
   training learns what that misses.

Why one stream with joint attention rather than LTX-2's two streams with cross-modal
attention: at the sizes this project ships and trains, one attention call over all
tokens does the work of LTX-2's four (video self, audio self, text cross, audio↔video)
and lets audio see video at every layer; benchmarks/dit_speed.py measures it against
diffusers' LTX2VideoTransformer3DModel at equal width, depth, heads and tokens.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.engines.dit.config import DiTConfig

TEXT, VIDEO, AUDIO, VIDEO_CLEAN, AUDIO_CLEAN = range(5)
KINDS = 5


# ---------------------------------------------------------------------------------------
# 1. Patches


def patchify_video(latents: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, N, h, w) → (B, N·(h/p)·(w/p), C·p·p), frame-major then row-major."""
    b, c, n, h, w = latents.shape
    x = latents.reshape(b, c, n, h // p, p, w // p, p)
    return x.permute(0, 2, 3, 5, 1, 4, 6).reshape(b, n * (h // p) * (w // p), c * p * p)


def unpatchify_video(
    tokens: torch.Tensor, shape: tuple[int, int, int, int], p: int
) -> torch.Tensor:
    """Inverse of `patchify_video` for latents of `shape` (C, N, h, w)."""
    c, n, h, w = shape
    b = tokens.shape[0]
    x = tokens.reshape(b, n, h // p, w // p, c, p, p)
    return x.permute(0, 4, 1, 2, 5, 3, 6).reshape(b, c, n, h, w)


def patchify_audio(latents: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, M) → (B, ceil(M/p), C·p); a ragged end is zero-padded."""
    b, c, m = latents.shape
    latents = F.pad(latents, (0, (-m) % p))
    return latents.reshape(b, c, -1, p).permute(0, 2, 1, 3).reshape(b, -1, c * p)


def unpatchify_audio(tokens: torch.Tensor, channels: int, length: int, p: int) -> torch.Tensor:
    b, n, _ = tokens.shape
    return (
        tokens.reshape(b, n, channels, p)
        .permute(0, 2, 1, 3)
        .reshape(b, channels, n * p)[..., :length]
    )


# ---------------------------------------------------------------------------------------
# 2. Positions


def video_times(latent_frames: int, fps: float, frames_per_latent: int) -> torch.Tensor:
    """Seconds at the centre of each latent frame: latent 0 is frame 0 alone, latent n ≥ 1
    holds frames (n-1)·k + 1 … n·k, with k = frames_per_latent."""
    n = torch.arange(latent_frames, dtype=torch.float64)
    centre = torch.where(n == 0, 0.0, frames_per_latent * n - (frames_per_latent - 1) / 2)
    return (centre / fps).float()


def audio_times(tokens: int, patch: int, latents_per_second: float) -> torch.Tensor:
    """Seconds at the centre of each audio patch (`patch` codec latents)."""
    m = torch.arange(tokens, dtype=torch.float64)
    return ((m * patch + patch / 2) / latents_per_second).float()


def time_angles(seconds: torch.Tensor, cfg: DiTConfig) -> torch.Tensor:
    """(N,) seconds → (N, time_pairs) radians: 2π·f·t for frequencies spaced
    geometrically from time_min_hz to time_max_hz. One function for every modality."""
    ratio = cfg.time_max_hz / cfg.time_min_hz
    hz = cfg.time_min_hz * ratio ** (torch.arange(cfg.time_pairs) / max(1, cfg.time_pairs - 1))
    return 2 * math.pi * seconds.float()[:, None] * hz[None, :]


def space_angles(positions: torch.Tensor, pairs: int, theta: float) -> torch.Tensor:
    """(N,) patch indices → (N, pairs) radians, the usual RoPE ladder."""
    inv = theta ** (-torch.arange(pairs, dtype=torch.float32) / pairs)
    return positions.float()[:, None] * inv[None, :]


def rotary_angles(
    seconds: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, cfg: DiTConfig
) -> torch.Tensor:
    """(N, head_dim/2) radians: time pairs, then y pairs, then x pairs."""
    space = cfg.head_dim // 2 - cfg.time_pairs
    y_pairs = space // 2
    return torch.cat(
        [
            time_angles(seconds, cfg),
            space_angles(ys, y_pairs, cfg.space_theta),
            space_angles(xs, space - y_pairs, cfg.space_theta),
        ],
        dim=1,
    )


def frame_features(rows: int, cols: int, frequencies: int) -> torch.Tensor:
    """(rows · cols, 4 · frequencies): sin and cos of π·k·u, k = 1 … frequencies, where u
    is the patch centre's place along y, then along x, as a fraction of the frame.

    Rotary positions are relative. From pure noise every video token looks alike, so
    without these a token cannot tell whether it belongs at the top of the frame (sky) or
    at the bottom (floor): the best a model can then predict at t = 1 is one colour
    everywhere. Fractions, not indices, so portrait and landscape grids agree."""
    k = torch.arange(1, frequencies + 1, dtype=torch.float32)

    def fourier(u: torch.Tensor) -> torch.Tensor:
        angles = math.pi * u.flatten()[:, None] * k[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    def centres(count: int) -> torch.Tensor:
        return (torch.arange(count, dtype=torch.float32) + 0.5) / count

    y, x = torch.meshgrid(centres(rows), centres(cols), indexing="ij")  # row-major, as tokens
    return torch.cat([fourier(y), fourier(x)], dim=1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (…, N, D) by angles whose cos/sin are (N, D/2): pair i is (x_i, x_{i+D/2})."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@dataclass
class Conditioning:
    """Everything besides the noisy latents: text and the optional clean references (all
    in the model's normalised latent space)."""

    text: torch.Tensor  # (B, L, text_dim)
    text_mask: torch.Tensor  # (B, L) bool
    fps: float = 24.0
    first_frame: torch.Tensor | None = None  # (B, Cv, 1, h, w)
    first_frame_mask: torch.Tensor | None = None  # (B,) bool
    ref_image: torch.Tensor | None = None  # (B, Cv, 1, hr, wr)
    ref_voice: torch.Tensor | None = None  # (B, Ca, Mr)
    ref_mask: torch.Tensor | None = None  # (B,) bool

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Conditioning:
        """The same conditioning with `fn` applied to every tensor."""
        changed = {
            f.name: fn(value)
            for f in dataclasses.fields(self)
            if isinstance(value := getattr(self, f.name), torch.Tensor)
        }
        return dataclasses.replace(self, **changed)  # type: ignore[arg-type]

    def to(self, device: torch.device) -> Conditioning:
        return self._map(lambda x: x.to(device))

    def repeat(self, times: int) -> Conditioning:
        return self._map(lambda x: x.repeat(times, *([1] * (x.dim() - 1))))

    def given_first_frame(self, batch: int, device: torch.device) -> torch.Tensor:
        """(B,) bool: which clips have their first frame given (all, without a mask)."""
        if self.first_frame_mask is None:
            return torch.ones(batch, dtype=torch.bool, device=device)
        return self.first_frame_mask.to(device)

    def given_references(self, batch: int, device: torch.device) -> torch.Tensor:
        """(B,) bool: which clips have their references (all, without a mask)."""
        if self.ref_mask is None:
            return torch.ones(batch, dtype=torch.bool, device=device)
        return self.ref_mask.to(device)


@dataclass
class Layout:
    """Where each kind of token sits in the sequence, and every token's rotary angles."""

    text: slice
    video: slice
    audio: slice
    refs: slice
    angles: torch.Tensor  # (N, head_dim / 2)


@dataclass
class _Sequence:
    """One forward pass's token stream: embeddings, each token's kind, which tokens may be
    attended to (False: padding text, absent references), and the layout."""

    x: torch.Tensor  # (B, T, d)
    kind: torch.Tensor  # (B, T)
    valid: torch.Tensor  # (B, T) bool
    layout: Layout


def _per_token(table: torch.Tensor, is_clean: torch.Tensor) -> torch.Tensor:
    """(B, 2, k, d) modulation for {noisy, clean} → (B, T, k, d) by each token's row."""
    index = is_clean[:, :, None, None].expand(-1, -1, table.shape[2], table.shape[3])
    return torch.gather(table, 1, index)


# ---------------------------------------------------------------------------------------
# 3. Blocks


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype)
        return x * scale * self.weight.to(x.dtype)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class Block(nn.Module):
    """Joint self-attention and an MLP, each behind an adaLN-Zero gate."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.width
        self.heads, self.head_dim = cfg.heads, cfg.head_dim
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm, self.k_norm = RMSNorm(cfg.head_dim), RMSNorm(cfg.head_dim)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU("tanh"), nn.Linear(hidden, d))
        self.modulation = nn.Parameter(torch.zeros(6, d))  # this block's adaLN-single offset

    def forward(
        self,
        x: torch.Tensor,  # (B, N, d)
        modulation: torch.Tensor,  # (B, N, 6, d)
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,  # (B, 1, 1, N) bool: keys that may be attended
    ) -> torch.Tensor:
        b, n, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = (modulation + self.modulation).unbind(2)
        h = modulate(self.norm1(x), shift1, scale1)
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = apply_rotary(self.q_norm(q), cos, sin).to(v.dtype)
        k = apply_rotary(self.k_norm(k), cos, sin).to(v.dtype)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + gate1 * self.proj(attended.transpose(1, 2).reshape(b, n, d))
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


def timestep_embedding(t: torch.Tensor, dim: int = 256, period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of t ∈ [0, 1] (scaled by 1000, as in DiT)."""
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(-math.log(period) * steps / half)
    angles = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def skip_scale(t: torch.Tensor) -> torch.Tensor:
    """The share of the input a model with `velocity_skip` adds to its velocity.

    For independent unit Gaussians x₀ and ε, E[ε − x₀ | x_t] = c(t)·x_t with
    c = (2t − 1) / ((1 − t)² + t²): 1 at t = 1, where the input is the noise and
    v = x_t − x₀, 0 at t = ½ (EDM's c_skip, for the velocity). Below t = ½ the formula
    turns negative and would subtract the input; there real latents are nothing like
    Gaussian noise and 150-step A/B runs denoised worse with it (docs/DIT.md), so the
    skip is used only on the noisy half: c = max(0, ·)."""
    return ((2 * t - 1) / ((1 - t) ** 2 + t**2)).clamp(min=0)


# ---------------------------------------------------------------------------------------
# 4. The model


class JointDiT(nn.Module):
    video_mean: torch.Tensor  # buffers: per-channel statistics of the codec latents
    video_std: torch.Tensor
    audio_mean: torch.Tensor
    audio_std: torch.Tensor

    def __init__(self, config: DiTConfig):
        super().__init__()
        cfg = self.config = config
        d = cfg.width
        if d % cfg.heads or cfg.head_dim % 2 or cfg.head_dim // 2 <= cfg.time_pairs + 1:
            raise ValueError(
                f"width {d} / heads {cfg.heads} must give an even head_dim with room for "
                f"{cfg.time_pairs} time pairs and the spatial pairs"
            )
        video_in = cfg.video_channels * cfg.video_patch**2
        audio_in = cfg.audio_channels * cfg.audio_patch
        self.text_in = nn.Linear(cfg.text_dim, d)
        self.video_in = nn.Linear(video_in, d)
        self.audio_in = nn.Linear(audio_in, d)
        self.kind_embedding = nn.Embedding(KINDS, d)
        self.frame_in = (
            nn.Linear(4 * cfg.frame_frequencies, d, bias=False) if cfg.frame_frequencies else None
        )
        self.time_in, self.time_hidden = nn.Linear(256, d), nn.Linear(d, d)
        self.time_projection = nn.Linear(d, 6 * d)  # adaLN-single: shift, scale, gate × 2
        self.kind_modulation = nn.Parameter(torch.zeros(KINDS, 6, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_projection = nn.Linear(d, 2 * d)
        self.final_kind_modulation = nn.Parameter(torch.zeros(KINDS, 2, d))
        self.video_out = nn.Linear(d, video_in)
        self.video_features, self.video_conv = None, None
        if cfg.conv_head:
            self.video_features = nn.Linear(d, cfg.conv_head * cfg.video_patch**2)
            self.video_conv = nn.Conv2d(cfg.conv_head, cfg.video_channels, 3, padding=1, bias=False)
        self.audio_out = nn.Linear(d, audio_in)
        # Latent statistics (set from the training data; shipped with the weights): the
        # transformer sees unit-variance latents.
        self.register_buffer("video_mean", torch.zeros(cfg.video_channels))
        self.register_buffer("video_std", torch.ones(cfg.video_channels))
        self.register_buffer("audio_mean", torch.zeros(cfg.audio_channels))
        self.register_buffer("audio_std", torch.ones(cfg.audio_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.kind_embedding.weight, std=0.02)
        nn.init.normal_(self.time_in.weight, std=0.02)
        nn.init.normal_(self.time_hidden.weight, std=0.02)
        # adaLN-Zero: every gate, the final modulation and the output heads start at zero.
        for zero in (self.time_projection, self.final_projection, self.video_out, self.audio_out):
            nn.init.zeros_(zero.weight)
        if self.video_conv is not None:
            nn.init.zeros_(self.video_conv.weight)

    # -- latent statistics ---------------------------------------------------------------

    def normalize_video(self, video: torch.Tensor) -> torch.Tensor:
        """Codec latents (B, C, N, h, w) → the unit-variance space."""
        shape = (1, -1, 1, 1, 1)
        return (video - self.video_mean.view(shape)) / self.video_std.view(shape)

    def normalize_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Codec latents (B, C', M) → the unit-variance space."""
        return (audio - self.audio_mean.view(1, -1, 1)) / self.audio_std.view(1, -1, 1)

    def denormalize(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, ...]:
        v = video * self.video_std.view(1, -1, 1, 1, 1) + self.video_mean.view(1, -1, 1, 1, 1)
        a = audio * self.audio_std.view(1, -1, 1) + self.audio_mean.view(1, -1, 1)
        return v, a

    # -- layout ----------------------------------------------------------------------------

    def layout(
        self,
        text_tokens: int,
        video_shape: tuple[int, int, int],  # latent (N, h, w)
        audio_tokens: int,
        fps: float,
        ref_image_shape: tuple[int, int] | None = None,  # latent (h, w) of one image
        ref_voice_tokens: int = 0,
    ) -> Layout:
        cfg, p = self.config, self.config.video_patch
        n, h, w = video_shape
        gh, gw = h // p, w // p
        frame, row, col = torch.meshgrid(
            torch.arange(n), torch.arange(gh), torch.arange(gw), indexing="ij"
        )
        times = video_times(n, fps, cfg.frames_per_latent)[frame.flatten()]
        zeros = torch.zeros
        parts = [
            (zeros(text_tokens), zeros(text_tokens), zeros(text_tokens), False),
            (times, row.flatten(), col.flatten(), True),
            (
                audio_times(audio_tokens, cfg.audio_patch, cfg.audio_latents_per_second),
                zeros(audio_tokens),
                zeros(audio_tokens),
                True,
            ),
        ]
        ref_count = 0
        if ref_image_shape is not None:
            rh, rw = ref_image_shape[0] // p, ref_image_shape[1] // p
            rrow, rcol = torch.meshgrid(torch.arange(rh), torch.arange(rw), indexing="ij")
            count = rh * rw
            parts.append(
                (torch.full((count,), cfg.reference_time_s), rrow.flatten(), rcol.flatten(), True)
            )
            ref_count += count
        if ref_voice_tokens:
            at = torch.full((ref_voice_tokens,), cfg.reference_time_s)
            parts.append((at, zeros(ref_voice_tokens), zeros(ref_voice_tokens), True))
            ref_count += ref_voice_tokens
        angles = []
        for seconds, ys, xs, rotate in parts:
            a = rotary_angles(seconds, ys, xs, cfg)
            angles.append(a if rotate else torch.zeros_like(a))  # text: no position
        video_tokens = n * gh * gw
        t0, v0 = text_tokens, text_tokens + video_tokens
        a0 = v0 + audio_tokens
        return Layout(
            text=slice(0, t0),
            video=slice(t0, v0),
            audio=slice(v0, a0),
            refs=slice(a0, a0 + ref_count),
            angles=torch.cat(angles),
        )

    # -- forward -----------------------------------------------------------------------------

    def forward(
        self,
        video: torch.Tensor,  # (B, Cv, N, h, w) noisy, normalised
        audio: torch.Tensor,  # (B, Ca, M) noisy, normalised
        t: torch.Tensor,  # (B,) in [0, 1]; 1 is pure noise
        cond: Conditioning,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The velocity ε − x₀ for video and audio latents, shaped like the inputs."""
        b = video.shape[0]
        device, dtype = video.device, self.video_in.weight.dtype
        # 1-2. Tokens with their kinds, positions and the attention mask.
        seq = self._sequence(video, audio, cond)
        angles = seq.layout.angles.to(device)
        cos, sin = angles.cos().to(dtype), angles.sin().to(dtype)
        mask = None if bool(seq.valid.all()) else seq.valid[:, None, None, :]

        # 3. Conditioning: noisy tokens see t, clean ones t = 0 (adaLN-single).
        times = torch.stack([t.float().to(device), torch.zeros(b, device=device)], dim=1)
        features = timestep_embedding(times.flatten()).to(device, dtype)
        embedded = self.time_hidden(F.silu(self.time_in(features))).view(b, 2, -1)
        is_clean = (seq.kind >= VIDEO_CLEAN).long()  # (B, T): 0 noisy, 1 clean
        base = self.time_projection(F.silu(embedded)).view(b, 2, 6, -1)  # (B, {t, 0}, 6, d)
        modulation = _per_token(base, is_clean) + self.kind_modulation[seq.kind]
        x = seq.x
        for block in self.blocks:
            x = block(x, modulation, cos, sin, mask)

        # 4. Heads.
        final = _per_token(self.final_projection(F.silu(embedded)).view(b, 2, 2, -1), is_clean)
        final = final + self.final_kind_modulation[seq.kind]
        x = modulate(self.final_norm(x), final[:, :, 0], final[:, :, 1])
        return self._heads(x, seq.layout, video, audio, t)

    def _sequence(self, video: torch.Tensor, audio: torch.Tensor, cond: Conditioning) -> _Sequence:
        """Steps 1-2: every token embedded (with its kind's embedding), in the order text,
        video, audio, reference image, reference voice; a given first frame replaces the
        first latent frame's noisy tokens as clean ones."""
        p, audio_patch = self.config.video_patch, self.config.audio_patch
        b, _, n, h, w = video.shape
        device, dtype = video.device, self.video_in.weight.dtype
        video_tokens = patchify_video(video, p)
        per_frame = (h // p) * (w // p)
        video_kinds = torch.full((b, video_tokens.shape[1]), VIDEO, device=device)
        if cond.first_frame is not None:
            given = cond.given_first_frame(b, device)
            clean = patchify_video(cond.first_frame, p)
            head = torch.where(given[:, None, None], clean, video_tokens[:, :per_frame])
            video_tokens = torch.cat([head, video_tokens[:, per_frame:]], dim=1)
            video_kinds[:, :per_frame] = torch.where(given[:, None], VIDEO_CLEAN, VIDEO)
        audio_tokens = patchify_audio(audio, audio_patch)
        text = cond.text
        pieces = [
            self.text_in(text.to(dtype)),
            self.embed_video(video_tokens, h // p, w // p),
            self.audio_in(audio_tokens.to(dtype)),
        ]
        kinds = [
            torch.full(text.shape[:2], TEXT, device=device),
            video_kinds,
            torch.full(audio_tokens.shape[:2], AUDIO, device=device),
        ]
        noisy = video_tokens.shape[1] + audio_tokens.shape[1]
        valid = [cond.text_mask.to(device), torch.ones(b, noisy, dtype=torch.bool, device=device)]
        has_refs = cond.given_references(b, device)
        ref_image_shape = None
        if cond.ref_image is not None:
            image = cond.ref_image
            image_tokens = patchify_video(image, p)
            ref_image_shape = (image.shape[-2], image.shape[-1])
            pieces.append(
                self.embed_video(image_tokens, image.shape[-2] // p, image.shape[-1] // p)
            )
            kinds.append(torch.full(image_tokens.shape[:2], VIDEO_CLEAN, device=device))
            valid.append(has_refs[:, None].expand(-1, image_tokens.shape[1]))
        voice_count = 0
        if cond.ref_voice is not None:
            voice_tokens = patchify_audio(cond.ref_voice, audio_patch)
            voice_count = voice_tokens.shape[1]
            pieces.append(self.audio_in(voice_tokens.to(dtype)))
            kinds.append(torch.full(voice_tokens.shape[:2], AUDIO_CLEAN, device=device))
            valid.append(has_refs[:, None].expand(-1, voice_count))
        kind = torch.cat(kinds, dim=1)  # (B, T)
        layout = self.layout(
            text.shape[1], (n, h, w), audio_tokens.shape[1], cond.fps, ref_image_shape, voice_count
        )
        return _Sequence(
            x=torch.cat(pieces, dim=1) + self.kind_embedding(kind),
            kind=kind,
            valid=torch.cat(valid, dim=1),
            layout=layout,
        )

    def _heads(
        self,
        x: torch.Tensor,
        layout: Layout,
        video: torch.Tensor,
        audio: torch.Tensor,
        t: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Step 4 after the final norm: video and audio tokens back to latents (with the
        video's convolution head and the linear skip c(t)·x_t where the model has them)."""
        cfg, p = self.config, self.config.video_patch
        b, cv, n, h, w = video.shape
        v_video = unpatchify_video(self.video_out(x[:, layout.video]).float(), (cv, n, h, w), p)
        if self.video_features is not None and self.video_conv is not None:
            channels = cfg.conv_head
            grid = unpatchify_video(self.video_features(x[:, layout.video]), (channels, n, h, w), p)
            frames = grid.transpose(1, 2).reshape(b * n, channels, h, w)
            conv = self.video_conv(F.silu(frames)).float()
            v_video = v_video + conv.view(b, n, cv, h, w).transpose(1, 2)
        v_audio = unpatchify_audio(
            self.audio_out(x[:, layout.audio]).float(),
            cfg.audio_channels,
            audio.shape[-1],
            cfg.audio_patch,
        )
        if cfg.velocity_skip:
            c = skip_scale(t.float().to(video.device))
            v_video = v_video + c.view(b, 1, 1, 1, 1) * video.float()
            v_audio = v_audio + c.view(b, 1, 1) * audio.float()
        return v_video, v_audio

    def embed_video(self, tokens: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
        """Video patches (B, frames · rows · cols, C·p·p), frame-major → (B, …, d): the
        input projection, plus each patch's place in its frame where the model has it."""
        x = self.video_in(tokens.to(self.video_in.weight.dtype))
        if self.frame_in is None:
            return x
        return x + self.frame_position(rows, cols, tokens.shape[1] // (rows * cols), x.device)

    def frame_position(
        self, rows: int, cols: int, frames: int, device: torch.device
    ) -> torch.Tensor:
        """The embedding of each video token's place in its frame, (frames · rows · cols,
        d) in token order (a model with `frame_frequencies`)."""
        assert self.frame_in is not None, "frame_frequencies is 0: no frame embedding"
        features = frame_features(rows, cols, self.config.frame_frequencies).to(device)
        return self.frame_in(features.to(self.frame_in.weight.dtype)).repeat(frames, 1)

    def token_count(self, video_shape: tuple[int, int, int], audio_latents: int) -> int:
        """Video and audio tokens for latents (N, h, w) and M audio latents."""
        n, h, w = video_shape
        p = self.config.video_patch
        return n * (h // p) * (w // p) + -(-audio_latents // self.config.audio_patch)
