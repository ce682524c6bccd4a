"""engines/dit/frame_model.py: shapes, the sampler's range, and that the model learns to
draw what the plan asks (a tiny model, two plans, two flat frames of their objects'
colours; a model that ignored the plan would draw the same frame for both)."""

from __future__ import annotations

import torch

from reelforge.engines.dit.frame_model import FrameConfig, FrameDiT, frame_loss, sample_frames
from reelforge.engines.dit.plan_tokens import encode_plan, stack_plans
from reelforge.types import ObjectSpec, ScenePlan

TINY = FrameConfig(height=16, width=8, patch=8, dim=64, depth=2, heads=2)


def _plans() -> dict[str, torch.Tensor]:
    red = ScenePlan(prompt="red", objects=[ObjectSpec(kind="ball", color="red", rgb=(214, 40, 40))])
    blue = ScenePlan(
        prompt="blue", objects=[ObjectSpec(kind="box", color="blue", rgb=(35, 90, 220))]
    )
    return stack_plans([encode_plan(red), encode_plan(blue)])


def test_shapes_and_range() -> None:
    model = FrameDiT(TINY)
    plans = _plans()
    frames = torch.rand(2, 3, 16, 8) * 2 - 1
    out = model(frames, torch.tensor([0.3, 0.9]), plans)
    assert out.shape == frames.shape
    drawn = sample_frames(model, plans, torch.Generator().manual_seed(0), steps=3)
    assert drawn.shape == (2, 3, 16, 8) and drawn.abs().max() <= 1


def test_a_size_that_is_not_whole_patches_is_refused() -> None:
    try:
        FrameDiT(FrameConfig(height=20, width=8, patch=8))
    except ValueError as error:
        assert "20" in str(error)
    else:
        raise AssertionError("a 8x20 frame in 8x8 patches was accepted")


def test_it_learns_to_draw_what_the_plan_asks() -> None:
    torch.manual_seed(0)
    model = FrameDiT(TINY)
    plans = _plans()
    colours = torch.tensor([[214, 40, 40], [35, 90, 220]]) / 127.5 - 1
    frames = colours[:, :, None, None].expand(2, 3, 16, 8).contiguous()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        loss = frame_loss(
            model,
            frames.repeat(4, 1, 1, 1),
            {k: v.repeat(4, *[1] * (v.dim() - 1)) for k, v in plans.items()},
            generator,
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    drawn = sample_frames(model, plans, torch.Generator().manual_seed(1), steps=20, guidance=2.0)
    means = drawn.mean(dim=(2, 3))
    assert means[0, 0] > means[0, 2] + 0.5  # red where red was asked
    assert means[1, 2] > means[1, 0] + 0.5  # blue where blue was asked


def test_weights_move_the_loss_to_where_they_are() -> None:
    model = FrameDiT(TINY)
    plans = _plans()
    frames = torch.zeros(2, 3, 16, 8)
    frames[:, :, :8] = 1.0  # a bright top half the untrained model gets wrong
    weights = torch.ones(2, 1, 16, 8)

    @torch.no_grad()
    def loss(w: torch.Tensor | None) -> float:
        return float(frame_loss(model, frames, plans, torch.Generator().manual_seed(0), weights=w))

    assert abs(loss(weights) - loss(None)) < 1e-5  # uniform weights: the plain loss
    top, bottom = weights.clone(), weights.clone()
    top[:, :, :8] = 100.0
    bottom[:, :, 8:] = 100.0
    assert loss(top) != loss(bottom)
