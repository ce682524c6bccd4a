"""The joint audio-video transformer on the tiny preset: shapes, shared temporal phase,
the exact Euler update, guidance, determinism, cancellation, image-to-video, training
(DDP and resume) and the engine."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from reelforge.engines import References, get_engine
from reelforge.engines.dit import checkpoint as ckpt
from reelforge.engines.dit.audio_codec import AudioCodec
from reelforge.engines.dit.config import TINY_DIT, DiTConfig, FlowConfig, preset
from reelforge.engines.dit.flow import (
    Conditioning,
    Guidance,
    sample,
    sampling_schedule,
    shift_for,
    shift_time,
    training_timesteps,
)
from reelforge.engines.dit.model import JointDiT, frame_features, skip_scale, video_times
from reelforge.engines.dit.train import train
from reelforge.engines.dit.video_vae import VideoVAE
from reelforge.errors import Cancelled, InvalidRequest
from reelforge.settings import Settings

from .test_train import _ddp_process, final_weights, free_port, quiet

torch.set_num_threads(1)
VIDEO = (4, 3, 8, 6)  # tiny latents: (C, N, h, w)
AUDIO_SHAPE = (8, 9)  # (C, M): odd, so the last audio patch is padded


def tiny_model(seed: int = 0) -> JointDiT:
    torch.manual_seed(seed)
    model = JointDiT(TINY_DIT).eval()
    for p in model.parameters():  # adaLN-Zero starts as the identity: wake it up
        p.data.add_(0.05 * torch.randn_like(p))
    return model


def text(batch: int = 1, tokens: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    states = torch.randn(batch, TINY_DIT.max_text_tokens, 384, generator=g)
    mask = torch.zeros(batch, TINY_DIT.max_text_tokens, dtype=torch.bool)
    mask[:, :tokens] = True
    return states, mask


def test_outputs_have_the_shapes_of_the_inputs_with_references_and_a_first_frame():
    model = tiny_model()
    states, mask = text(2)
    video, audio = torch.randn(2, *VIDEO), torch.randn(2, *AUDIO_SHAPE)
    cond = Conditioning(
        states,
        mask,
        first_frame=torch.randn(2, 4, 1, 8, 6),
        first_frame_mask=torch.tensor([True, False]),
        ref_image=torch.randn(2, 4, 1, 4, 4),
        ref_voice=torch.randn(2, 8, 6),
        ref_mask=torch.tensor([False, True]),
    )
    v, a = model(video, audio, torch.rand(2), cond)
    assert v.shape == video.shape and a.shape == audio.shape
    assert torch.isfinite(v).all() and torch.isfinite(a).all()


def test_a_sound_and_the_frame_of_the_same_instant_share_their_temporal_phase():
    cfg = DiTConfig(depth=1)  # the shipped rates: 50 audio latents per second, patches of 2
    model = JointDiT(cfg)
    # At 25 fps latent frame 1 (frames 1-4) is centred on 0.1 s, as is audio patch 2
    # (codec latents 4 and 5, 0.08-0.12 s); latent frame 2 and audio patch 6 on 0.26 s.
    layout = model.layout(3, (3, 8, 8), 10, fps=25.0)
    v_times = video_times(3, 25.0, cfg.frames_per_latent)
    a_times = (torch.arange(10) * 2 + 1) / cfg.audio_latents_per_second
    pairs = cfg.time_pairs
    video_angles = layout.angles[layout.video][:, :pairs].reshape(3, 4, pairs)
    audio_angles = layout.angles[layout.audio][:, :pairs]
    assert (video_angles == video_angles[:, :1]).all()  # one time per latent frame
    matches = 0
    for i, tv in enumerate(v_times.tolist()):
        for j, ta in enumerate(a_times.tolist()):
            same = torch.allclose(video_angles[i, 0], audio_angles[j], atol=1e-5)
            assert same == (abs(tv - ta) < 1e-6)
            matches += same
    assert matches == 2
    # Text has no position; audio no spatial one; video both.
    assert (layout.angles[layout.text] == 0).all()
    assert (layout.angles[layout.audio][:, pairs:] == 0).all()
    assert layout.angles[layout.video][:, pairs:].abs().sum() > 0


def test_video_tokens_know_their_place_in_the_frame():
    # Rotary positions are relative; the frame features are absolute fractions of the
    # frame, the same for every frame and for portrait and landscape grids alike.
    features = frame_features(6, 6, 4)
    assert torch.unique(features, dim=0).shape[0] == 36  # every patch its own place
    assert torch.allclose(frame_features(2, 2, 4)[0], features[1 * 6 + 1])  # (0.25, 0.25)
    top, bottom = features[:6], features[-6:]
    assert not torch.allclose(top, bottom)
    assert torch.allclose(top[:, :8], top[:1, :8])  # one y for a row, x varies along it
    model = JointDiT(dataclasses.replace(TINY_DIT, frame_frequencies=4))
    per_token = model.frame_position(3, 2, frames=2, device=torch.device("cpu"))
    assert isinstance(per_token, torch.Tensor) and per_token.shape == (12, TINY_DIT.width)
    assert torch.equal(per_token[:6], per_token[6:])  # tokens are frame-major
    # A checkpoint trained without them (frame_frequencies 0) has no such weights.
    assert JointDiT(dataclasses.replace(TINY_DIT, frame_frequencies=0)).frame_in is None


def test_an_untrained_model_is_the_best_linear_denoiser():
    # On the noisy half c(t) is the least-squares slope of v = ε − x₀ on x_t for unit
    # Gaussians; below t = ½ (where that slope is negative) it is 0.
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(200_000, generator=g), torch.randn(200_000, generator=g)
    for t in (0.0, 0.25, 0.5, 0.8, 1.0):
        xt = (1 - t) * x0 + t * noise
        slope = float((xt * (noise - x0)).mean() / xt.pow(2).mean())
        assert abs(float(skip_scale(torch.tensor(t))) - max(0.0, slope)) < 0.02
    # Zero-initialised heads: the velocity is exactly c(t)·x_t; at t = 1 that is the
    # input, so the clean estimate x_t − v starts at the mean, not at the noise.
    model = JointDiT(dataclasses.replace(TINY_DIT, velocity_skip=True))
    states, mask = text()
    video, audio = torch.randn(1, *VIDEO), torch.randn(1, *AUDIO_SHAPE)
    for t in (0.3, 1.0):
        v, a = model(video, audio, torch.tensor([t]), Conditioning(states, mask))
        c = float(skip_scale(torch.tensor(t)))
        assert torch.allclose(v, c * video, atol=1e-6) and torch.allclose(a, c * audio, atol=1e-6)


def test_the_conv_head_starts_at_zero_and_reaches_across_patch_borders():
    plain = tiny_model()
    headed = JointDiT(dataclasses.replace(TINY_DIT, conv_head=3)).eval()
    missing = headed.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["video_conv.weight", "video_features.bias", "video_features.weight"]
    cond = Conditioning(*text())
    video, audio = torch.randn(1, *VIDEO), torch.randn(1, *AUDIO_SHAPE)
    t = torch.tensor([0.6])
    with torch.no_grad():  # zero-initialised: the same function as without it
        base = plain(video, audio, t, cond)[0]
        torch.testing.assert_close(headed(video, audio, t, cond)[0], base)
    # Only token 0 (frame 0, the top-left 2 × 2 patch) emits features: the convolution
    # writes its patch and, across the border, the adjacent ring of its neighbours.
    assert headed.video_conv is not None and headed.video_features is not None
    headed.video_conv.weight.data.normal_()

    def one_token(module, inputs, output):
        kept = torch.zeros_like(output)
        kept[:, 0] = 1.0
        return kept

    hook = headed.video_features.register_forward_hook(one_token)
    with torch.no_grad():
        changed = (headed(video, audio, t, cond)[0] - base).abs().sum(dim=1)[0]
    hook.remove()
    p = TINY_DIT.video_patch
    assert changed[0, : p + 1, : p + 1].min() > 0  # the patch and one pixel beyond it
    assert changed[0, p + 1 :].max() == 0 and changed[0, :, p + 1 :].max() == 0
    assert changed[1:].max() == 0  # frames are convolved one by one


class ConstantModel(torch.nn.Module):
    """v = a constant for the caption, another for the empty caption."""

    def __init__(self, cond: float, uncond: float):
        super().__init__()
        self.video_in = torch.nn.Linear(1, 1)  # the sampler reads the device from it
        self.cond, self.uncond, self.calls = cond, uncond, 0
        self.config = TINY_DIT

    def token_count(self, video_shape, audio_latents):
        return JointDiT.token_count(self, video_shape, audio_latents)  # type: ignore[arg-type]

    def forward(self, video, audio, t, cond):
        self.calls += 1
        has_text = cond.text_mask.any(dim=1).float()
        value = has_text * self.cond + (1 - has_text) * self.uncond
        return (
            value.view(-1, 1, 1, 1, 1).expand_as(video).clone(),
            (2 * value).view(-1, 1, 1).expand_as(audio).clone(),
        )


NO_GUIDANCE = Guidance(1.0, 1.0)


def run_sampler(model, steps=4, guidance=NO_GUIDANCE, seed=0, **kwargs):
    states, mask = text()
    return sample(
        model,
        Conditioning(states, mask, **kwargs.pop("cond", {})),
        video_shape=VIDEO,
        audio_shape=AUDIO_SHAPE,
        steps=steps,
        flow=FlowConfig(),
        guidance=guidance,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


def test_the_euler_update_is_exactly_x_plus_dt_times_v():
    model = ConstantModel(cond=0.5, uncond=0.0)
    video, audio = run_sampler(model, steps=5, seed=3)
    # The two draws share one generator in the sampler: video first, then audio.
    g = torch.Generator().manual_seed(3)
    noise_v = torch.randn((1, *VIDEO), generator=g)
    noise_a = torch.randn((1, *AUDIO_SHAPE), generator=g)
    schedule = sampling_schedule(5, 0, FlowConfig()).tolist()
    expect_v, expect_a = noise_v.clone(), noise_a.clone()
    for t, t_next in itertools.pairwise(schedule):
        expect_v = expect_v + (t_next - t) * 0.5
        expect_a = expect_a + (t_next - t) * 1.0
    assert torch.equal(video, expect_v) and torch.equal(audio, expect_a)
    assert schedule[0] == 1.0 and schedule[-1] == 0.0 and model.calls == 5


def test_a_share_of_training_timesteps_lands_near_pure_noise():
    def draws(rate: float) -> torch.Tensor:
        flow = FlowConfig(high_noise_rate=rate)
        return training_timesteps(20_000, 1506, flow, torch.Generator().manual_seed(0))

    plain, tail = draws(0.0), draws(0.1)
    near = lambda t: float((t > 0.9).float().mean())  # noqa: E731
    assert near(plain) < 0.03  # the shifted logit-normal alone seldom comes near t = 1
    assert 0.1 < near(tail) < 0.14 and float(tail.max()) <= 1.0
    # Without the option the draws are those of runs made before it (bit for bit).
    g = torch.Generator().manual_seed(0)
    u = torch.sigmoid(torch.randn(20_000, generator=g))
    assert torch.equal(plain, shift_time(u, shift_for(1506, FlowConfig())))


def test_guidance_mixes_caption_and_empty_caption_with_separate_scales():
    model = ConstantModel(cond=1.0, uncond=0.25)
    plain_v, plain_a = run_sampler(ConstantModel(0.0, 0.0), steps=1)
    video, audio = run_sampler(model, steps=1, guidance=Guidance(video=3.0, audio=5.0))
    # One step from t = 1 to 0: x = noise - v; v = uncond + scale·(cond - uncond).
    assert torch.allclose(plain_v - video, torch.full_like(video, 0.25 + 3.0 * 0.75))
    assert torch.allclose(plain_a - audio, torch.full_like(audio, 2 * (0.25 + 5.0 * 0.75)))
    assert model.calls == 1  # caption and empty caption in one batched call


def test_the_same_seed_gives_the_same_clip_and_another_seed_another():
    model = tiny_model()
    a = run_sampler(model, seed=11, guidance=Guidance(2.0, 2.0))
    b = run_sampler(model, seed=11, guidance=Guidance(2.0, 2.0))
    c = run_sampler(model, seed=12, guidance=Guidance(2.0, 2.0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_cancellation_is_honoured_within_one_step():
    model = ConstantModel(1.0, 0.0)
    asked = []

    def cancelled() -> bool:
        asked.append(model.calls)
        return model.calls == 2

    with pytest.raises(Cancelled, match="step 3 of 8"):
        run_sampler(model, steps=8, cancelled=cancelled)
    assert model.calls == 2 and asked == [0, 1, 2]


def test_image_to_video_keeps_the_given_first_latent_frame_exactly():
    model = tiny_model()
    first = torch.randn(1, 4, 1, 8, 6)
    video, _ = run_sampler(model, guidance=Guidance(2.0, 2.0), cond={"first_frame": first})
    assert torch.equal(video[:, :, :1], first)
    free, _ = run_sampler(model, guidance=Guidance(2.0, 2.0))
    assert not torch.equal(free[:, :, :1], first)
    # The given frame steers the rest of the clip: later frames differ from a free run.
    assert not torch.allclose(video[:, :, 1:], free[:, :, 1:])


def test_text_padding_is_ignored():
    model = tiny_model()
    states, mask = text(tokens=3)
    video, audio, t = torch.randn(1, *VIDEO), torch.randn(1, *AUDIO_SHAPE), torch.rand(1)
    base = model(video, audio, t, Conditioning(states, mask))
    states[:, 3:] = torch.randn_like(states[:, 3:])  # only padding changes
    again = model(video, audio, t, Conditioning(states, mask))
    torch.testing.assert_close(base[0], again[0])


# ---------------------------------------------------------------------------------------
# Training on the tiny preset


@pytest.fixture(scope="module")
def latents(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("latents")
    run = preset("dit", "tiny")
    train(run, quiet(tmp_path_factory.mktemp("warm"), steps=0, latents=directory))
    return directory


def test_dit_training_runs_and_the_loss_is_finite(latents, tmp_path):
    run = preset("dit", "tiny")
    losses = train(run, quiet(tmp_path / "run", latents=latents, export=tmp_path / "export"))
    assert len(losses) == run.train.steps and all(np.isfinite(losses))
    model = ckpt.from_pretrained(tmp_path / "export")
    assert isinstance(model, JointDiT)
    assert isinstance(model.video_std, torch.Tensor)
    assert not torch.equal(model.video_std, torch.ones_like(model.video_std))  # from data
    assert len(list((latents / "references").glob("*.safetensors"))) >= 1


def test_a_new_head_trains_on_top_of_frozen_initial_weights(latents, tmp_path):
    run = preset("dit", "tiny")
    train(run, quiet(tmp_path / "base", latents=latents, export=tmp_path / "base-export"))
    initial = ckpt.load_sharded(tmp_path / "base-export")
    headed = dataclasses.replace(
        run,
        dit=dataclasses.replace(run.dit, conv_head=2),
        train=dataclasses.replace(run.train, trainable=("video_features", "video_conv")),
    )
    options = quiet(tmp_path / "head", latents=latents, init=tmp_path / "base-export")
    assert all(np.isfinite(train(headed, options)))
    after = final_weights(tmp_path / "head")
    for name, tensor in initial.items():  # frozen, latent statistics included
        torch.testing.assert_close(after[name], tensor.float(), rtol=0, atol=0)
    assert after["video_conv.weight"].abs().max() > 0  # the head left zero
    # Weights of another shape, or of the same shapes for another model, are refused.
    wider, fewer_heads = (
        dataclasses.replace(run.dit, width=48),
        dataclasses.replace(run.dit, heads=1),
    )
    for field, config in (("width", wider), ("heads", fewer_heads)):
        other = dataclasses.replace(run, dit=config)
        with pytest.raises(InvalidRequest, match=f"init .*{field}") as error:
            train(other, quiet(tmp_path / field, latents=latents, init=tmp_path / "base-export"))
        assert error.value.param == "init"


def test_dit_save_and_resume_continue_bit_identically(latents, tmp_path):
    run = preset("dit", "tiny")
    continuous = train(run, quiet(tmp_path / "a", steps=4, latents=latents))
    first = train(run, quiet(tmp_path / "b", steps=4, stop_at=2, latents=latents))
    second = train(run, quiet(tmp_path / "b", steps=4, resume=True, latents=latents))
    assert first + second == continuous
    a, b = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_a_filled_cache_is_not_scanned_again(latents, tmp_path, monkeypatch):
    from reelforge.engines.dit import train as train_module

    assert (latents / train_module.FILLED).is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("a filled cache was filled again")

    monkeypatch.setattr(train_module, "_fill_cache", refuse)
    monkeypatch.setattr(train_module, "_fill_references", refuse)
    train(preset("dit", "tiny"), quiet(tmp_path / "run", steps=0, latents=latents))


def test_max_minutes_stops_after_the_step_it_runs_out_with_a_checkpoint(latents, tmp_path):
    run = preset("dit", "tiny")
    lines: list[str] = []
    options = quiet(tmp_path / "run", steps=4, max_minutes=0.0, latents=latents)
    losses = train(run, dataclasses.replace(options, log=lines.append))
    assert len(losses) == 1
    assert [p.name for p in (tmp_path / "run" / "checkpoints").glob("step-*")] == ["step-00000001"]
    assert any("stopping after step 1" in line for line in lines)


def test_latent_caching_in_several_processes_writes_what_one_process_writes(latents, tmp_path):
    # In a process of its own: a spawn pool inside pytest's process left it in a state in
    # which a later test's sim clips came out differently (tests/eval/test_identity.py,
    # only after the PostgreSQL e2e tests too; not understood, see docs/TRAINING.md).
    code = (
        "import dataclasses, sys\n"
        "from pathlib import Path\n"
        "from reelforge.engines.dit.config import preset\n"
        "from reelforge.engines.dit.train import Options, train\n"
        "run = preset('dit', 'tiny')\n"
        "run = dataclasses.replace(run, train=dataclasses.replace(run.train, cache_workers=2))\n"
        "out = Path(sys.argv[1])\n"
        "train(run, Options(out=out / 'run', steps=0, latents=out / 'latents', log=print))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=600)
    several = tmp_path / "latents"
    names = sorted(p.relative_to(latents) for p in latents.rglob("*.safetensors"))
    assert names == sorted(p.relative_to(several) for p in several.rglob("*.safetensors"))
    for name in names:
        one, other = load_file(latents / name), load_file(several / name)
        assert one.keys() == other.keys()
        assert all(torch.equal(one[key], other[key]) for key in one)


def test_dit_two_processes_follow_one_process(latents, tmp_path):
    run = preset("dit", "tiny")
    single = train(run, quiet(tmp_path / "one", latents=latents))
    mp.spawn(_ddp_process, args=(2, free_port(), run, tmp_path / "two", latents), nprocs=2)
    double = json.loads((tmp_path / "two" / "losses.json").read_text())
    # bf16 autocast on the CPU: the halves' products round differently from the whole, and
    # how far that moves the fourth step's loss depends on the sim clips the cache holds
    # (2.2 % and 3.8 % measured as the sim's scenes changed; under 2 % before), so 5 %.
    torch.testing.assert_close(torch.tensor(double), torch.tensor(single), rtol=5e-2, atol=1e-3)


# ---------------------------------------------------------------------------------------
# The engine


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("dit-weights")
    run = preset("dit", "tiny")
    ckpt.save_pretrained(tiny_model(), directory)
    torch.manual_seed(0)
    ckpt.save_pretrained(VideoVAE(run.video), directory / "video-vae")
    ckpt.save_pretrained(AudioCodec(run.audio), directory / "audio-codec")
    return directory


def test_the_engine_makes_a_clip_of_the_requested_size_with_references(tiny_weights):
    from reelforge.recaption import recaption

    settings = Settings(dit_weights=tiny_weights, dit_steps=2)
    engine = get_engine("dit", settings)
    plan, _ = recaption('A red ball bounces. A woman says "hello".', 1, settings)
    stages: list[float] = []
    rng = np.random.default_rng(0)
    references = References(
        first_frame=rng.integers(0, 255, (1280, 720, 3), dtype=np.uint8),
        cameo_images=(rng.integers(0, 255, (200, 160, 3), dtype=np.uint8),),
        cameo_voices=(rng.standard_normal(16_000).astype(np.float32) * 0.1,),
    )
    clip = engine.generate(
        plan,
        seconds=1.0,
        size="720x1280",
        fps=24,
        seed=5,
        references=references,
        progress=lambda stage, fraction: stages.append(fraction),
    )
    assert clip.frames.shape == (24, 1280, 720, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (1, 48_000) and clip.audio.dtype == np.float32
    assert stages == sorted(stages) and stages[-1] == 1.0


def test_a_cancelled_job_stops_the_engine_within_one_step(tiny_weights):
    from reelforge.recaption import recaption

    settings = Settings(dit_weights=tiny_weights, dit_steps=6)
    engine = get_engine("dit", settings)
    plan, _ = recaption("A blue box slides.", 1, settings)
    seen: list[str] = []

    def progress(stage: str, fraction: float) -> None:
        seen.append(stage)
        if seen.count("denoise") == 2:
            raise Cancelled("video was cancelled")

    with pytest.raises(Cancelled):
        engine.generate(
            plan, seconds=1.0, size="256x448", fps=24, seed=1, references=None, progress=progress
        )
    assert seen.count("denoise") == 2 and "decode" not in seen
