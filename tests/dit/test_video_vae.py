"""The causal video VAE on the tiny preset: shapes, causality, chunked decoding,
determinism, bad input."""

from __future__ import annotations

import pytest
import torch

from reelforge.engines.dit.config import PRESETS, preset
from reelforge.engines.dit.video_vae import VideoVAE, fold, unfold
from reelforge.errors import InvalidRequest


def tiny_vae(seed: int = 0) -> VideoVAE:
    torch.manual_seed(seed)
    vae = VideoVAE(preset("vae", "tiny").video).eval()
    # Temporal convolutions start at zero (identity blocks); give them weights so that
    # the causality test has something to catch.
    for module in vae.modules():
        if isinstance(module, torch.nn.Conv3d) and module.kernel_size[0] > 1:
            torch.nn.init.normal_(module.weight, std=0.2)
    return vae


def clip(frames: int = 13, height: int = 32, width: int = 48, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((2, 3, frames, height, width), generator=generator) * 2 - 1


def test_shapes_follow_1_plus_4k_frames_and_8x8_space():
    vae = tiny_vae()
    x = clip(13, 32, 48)  # 1 + 4·3 frames
    with torch.no_grad():
        posterior = vae.encode(x)
        assert posterior.mean.shape == (2, 4, 4, 4, 6)  # (B, z, 1 + 3, H/8, W/8)
        assert vae.latent_shape(tuple(x.shape)) == tuple(posterior.mean.shape)
        assert vae.decode(posterior.mean).shape == x.shape


def test_cpu_preset_compresses_4x_time_and_8x8_space():
    config = PRESETS["vae"]["cpu"].video
    assert config.frames_per_latent == 4 and config.spatial_compression == 8


def test_fold_and_unfold_are_inverse():
    x = torch.randn(1, 3, 8, 16, 24)
    assert torch.equal(unfold(fold(x, 4, 4), 4, 4), x)


@pytest.mark.parametrize("first_changed", [1, 5, 9, 12])
def test_a_latent_never_depends_on_later_frames(first_changed):
    vae = tiny_vae()
    x = clip()
    later = x.clone()
    later[:, :, first_changed:] = torch.rand_like(later[:, :, first_changed:]) * 2 - 1
    with torch.no_grad():
        before, after = vae.encode(x).mean, vae.encode(later).mean
        decoded_before, decoded_after = vae.decode(before), vae.decode(after)
    # Latent j sees frames up to 4j: frame 0 alone, then 1..4, 5..8, ...
    unchanged = (first_changed - 1) // 4 + 1
    assert torch.equal(before[:, :, :unchanged], after[:, :, :unchanged])
    assert not torch.allclose(before[:, :, unchanged:], after[:, :, unchanged:])
    # The decoder is causal too: the frames of the unchanged latents decode identically.
    kept_frames = 1 + 4 * (unchanged - 1)
    assert torch.equal(decoded_before[:, :, :kept_frames], decoded_after[:, :, :kept_frames])
    assert not torch.allclose(decoded_before[:, :, kept_frames:], decoded_after[:, :, kept_frames:])


def test_chunked_decoding_equals_whole_clip_decoding():
    vae = tiny_vae()
    with torch.no_grad():
        latents = vae.encode(clip(29)).mean  # 8 latent frames
        whole = vae.decode(latents)
        for chunk in (1, 3, 5):
            torch.testing.assert_close(vae.decode(latents, chunk_latents=chunk), whole)


def test_round_trip_is_deterministic():
    x = clip()
    with torch.no_grad():
        first = tiny_vae(seed=3).decode(tiny_vae(seed=3).encode(x).mean)
        second = tiny_vae(seed=3).decode(tiny_vae(seed=3).encode(x).mean)
    assert torch.equal(first, second)


def test_training_pass_backpropagates():
    vae = tiny_vae()
    x = clip()
    reconstruction, posterior = vae.train()(x, torch.zeros(vae.latent_shape(tuple(x.shape))))
    ((reconstruction - x).abs().mean() + posterior.kl()).backward()
    assert all(p.grad is not None for p in vae.parameters())


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 3, 12, 32, 32), r"1 \+ 4k"),
        ((2, 3, 13, 30, 32), "multiple of 8"),
        ((3, 13, 32, 32), r"\(B, 3, T, H, W\)"),
    ],
)
def test_bad_frames_name_the_field(shape, message):
    with pytest.raises(InvalidRequest, match=message) as caught:
        tiny_vae().encode(torch.zeros(shape))
    assert caught.value.param == "frames"
