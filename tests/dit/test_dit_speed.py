"""benchmarks/dit_speed.py on the tiny preset: ours and the peer (diffusers' LTX-2
transformer) see the same tokens, and the JSON holds every measure with positive numbers.
Nothing here depends on how fast anything is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import ModuleType

import pytest
import torch

from reelforge.engines.dit.config import PRESETS

from . import BENCHMARKS, benchmark_module


@pytest.fixture(scope="module")
def dit_speed() -> ModuleType:
    return benchmark_module("dit_speed")


def test_the_peer_gets_our_token_counts_and_gives_them_back(dit_speed):
    run = PRESETS["dit"]["tiny"]
    work = dit_speed.clip_workload(run, 0.5, "256x448", 24, batch=2)
    # 12 frames: latent frame 0 alone, then 11 more in 3 latents; 448 px tall and 256 wide
    # is a 56x32 latent grid, in 2x2 patches; 0.5 s is 50 audio latents at 100/s, in pairs.
    assert (work.latent_frames, work.latent_height, work.latent_width) == (4, 56, 32)
    assert (work.video_tokens, work.audio_tokens, work.text_tokens) == (4 * 28 * 16, 25, 8)
    assert work.tokens == 2 * (4 * 28 * 16 + 25)

    cpu = torch.device("cpu")
    batch = dit_speed.random_batch(run.dit, work, cpu)
    with torch.no_grad():
        ours_video, ours_audio = dit_speed.build_ours(run.dit, cpu).forward(batch)
        peer_video, peer_audio = dit_speed.build_peer(run, work, cpu).forward(batch)
    assert ours_video.shape == batch["video"].shape and ours_audio.shape == batch["audio"].shape
    cfg = run.dit
    assert peer_video.shape == (2, work.video_tokens, cfg.video_channels * cfg.video_patch**2)
    assert peer_audio.shape == (2, work.audio_tokens, cfg.audio_channels * cfg.audio_patch)


def test_the_benchmark_writes_every_measure(tmp_path):
    out = tmp_path / "dit_speed.json"
    # Two denoising steps keep the engine's half-second clips short; the JSON still has its
    # split.
    env = os.environ | {"REELFORGE_DIT_STEPS": "2"}
    command = [
        sys.executable,
        str(BENCHMARKS / "dit_speed.py"),
        *("--config", "tiny", "--step-seconds", "0.5", "--sampling-seconds", "0.5"),
        *("--iterations", "2", "--warmup", "1", "--threads", "1", "--runs", "1"),
        *("--no-cuda", "--out", str(out), "--no-write"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "<!-- dit_speed:begin -->" in done.stdout and "| parameters |" in done.stdout

    results = json.loads(out.read_text())
    assert results["config"] == "tiny" and results["threads"] == 1
    for name in ("training", "sampling_step"):
        measured = results["cpu"][name]
        assert measured["workload"]["tokens"] > 0
        for model in ("ours", "peer"):
            entry = measured[model]
            assert len(entry["seconds_per_step"]) == 2
            for field in ("parameters", "median_seconds_per_step", "tokens_per_s"):
                assert entry[field] > 0, (name, model, field)
            assert entry["flops_per_step"] > 0 and entry["achieved_tflops_per_s"] > 0
        assert measured["ratio"] > 0 and measured["ratio_of_medians"] > 0
        assert len(measured["ratio_per_round"]) == 2
    assert results["cpu"]["training"]["pass"] == "forward+backward"
    assert results["cpu"]["sampling_step"]["pass"] == "forward"

    engine = results["cpu"]["engine"]
    assert engine["seconds"] == 0.5 and engine["frames"] == 12 and engine["steps"] == 2
    assert engine["first_clip_seconds"] == 0.5 and engine["first_clip_s"] > 0
    assert engine["median_wall_s"] > 0 and engine["real_time_factor"] > 0
    assert set(engine["median_split_s"]) == {"text_s", "denoise_s", "decode_s"}
    assert all(value > 0 for value in engine["median_split_s"].values())
    assert results["cuda"] == {"skipped": "--no-cuda"}
