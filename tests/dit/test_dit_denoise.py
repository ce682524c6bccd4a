"""benchmarks/dit_denoise.py's arithmetic: an oracle scores zero, a model that predicts no
velocity scores what the noisy input scores, and the peers are what they say."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch

from . import benchmark_module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_module("dit_denoise")


def clips(count: int = 3) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(5)
    return [
        {
            "video": 0.8 * torch.randn(1, 4, 3, 8, 6, generator=g) + 0.3,
            "audio": torch.randn(1, 8, 10, generator=g),
            "text": torch.zeros(1, 8, 384),
            "text_mask": torch.ones(1, 8, dtype=torch.bool),
        }
        for _ in range(count)
    ]


class Oracle(torch.nn.Module):
    """Knows x₀ (the clip it is asked about, by index) and returns ε − x₀ exactly."""

    def __init__(self, data: list[dict[str, torch.Tensor]], zero: bool = False):
        super().__init__()
        self.data, self.zero, self.calls = data, zero, 0

    def forward(self, video, audio, t, cond):
        clip = self.data[self.calls % len(self.data)]
        self.calls += 1
        if self.zero:
            return torch.zeros_like(video), torch.zeros_like(audio)
        s = float(t)
        # x_t = (1 − s)·x₀ + s·ε, so ε − x₀ = (x_t − x₀) / s
        return (video - clip["video"]) / s, (audio - clip["audio"]) / s


def test_an_oracle_scores_zero_and_no_velocity_scores_the_noisy_input(bench):
    data = clips()
    exact = bench.errors(Oracle(data), data, patch=2)
    silent = bench.errors(Oracle(data, zero=True), data, patch=2)
    peers = bench.baselines(data, mean=None)
    clean = sum(bench.border_ratio(c["video"], 2) for c in data) / len(data)
    for t in bench.TIMES:
        key = f"{t:g}"
        assert max(exact[key][:2]) < 1e-4
        assert exact[key][2] == pytest.approx(clean, rel=1e-3)  # x̂₀ = x₀: its borders
        assert silent[key][:2] == pytest.approx(peers["noisy input"][key], rel=1e-3)
    # Zero is the clips' mean square at every t; the noisy input at t = 1 is ε − x₀.
    square = sum(float(c["video"].pow(2).mean()) for c in data) / len(data)
    assert peers["zero"]["1"][0] == pytest.approx(square)
    assert peers["noisy input"]["1"][0] == pytest.approx(1 + square, rel=0.15)


def test_the_per_position_mean_is_scored_against_each_clip(bench):
    data = clips()
    mean = torch.stack([c["video"] for c in data]).mean(0)
    rows = bench.baselines(data, mean=mean)
    spread = sum(float((c["video"] - mean).pow(2).mean()) for c in data) / len(data)
    assert rows["per-position mean"]["0.3"][0] == pytest.approx(spread)
    assert rows["per-position mean"]["1"][0] < rows["zero"]["1"][0]


def test_the_patch_border_ratio_sees_tiles_and_not_patchless_fields(bench):
    g = torch.Generator().manual_seed(0)
    patchless = torch.randn(1, 4, 2, 16, 16, generator=g)  # independent latent pixels
    assert bench.border_ratio(patchless, 4) == pytest.approx(1.0, abs=0.05)
    # One value per 4 × 4 patch plus a little texture: every step is at a border.
    tiles = torch.randn(1, 4, 2, 4, 4, generator=g).repeat_interleave(4, -1)
    tiles = tiles.repeat_interleave(4, -2) + 0.01 * torch.randn(1, 4, 2, 16, 16, generator=g)
    assert bench.border_ratio(tiles, 4) > 20
    assert bench.border_ratio(tiles, 2) < bench.border_ratio(tiles, 4)  # wrong grid: less
