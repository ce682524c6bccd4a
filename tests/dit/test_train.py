"""The training stack on the tiny presets: DDP matches one process, resume is
bit-identical, checkpoints are sharded safetensors, TensorBoard events, clear errors."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from reelforge.engines.dit.checkpoint import from_pretrained, load_sharded
from reelforge.engines.dit.config import RunConfig, load_run_config, preset
from reelforge.engines.dit.train import Options, train
from reelforge.engines.dit.video_vae import VideoVAE
from reelforge.errors import InvalidRequest
from tests.servers import free_port


def quiet(out: Path, **kwargs) -> Options:
    return Options(out=out, log=lambda line: None, **kwargs)


def final_weights(out: Path, prefix: str = "raw") -> dict[str, torch.Tensor]:
    last = sorted((out / "checkpoints").glob("step-*"))[-1]
    return load_sharded(last, prefix)


def _ddp_process(
    rank: int, world: int, port: int, run: RunConfig, out: Path, latents: Path | None = None
) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    torch.set_num_threads(1)
    losses = train(run, quiet(out, latents=latents))
    if rank == 0:
        (out / "losses.json").write_text(json.dumps(losses))
    torch.distributed.destroy_process_group()


def test_two_processes_follow_one_process_with_the_same_global_batch(tmp_path):
    run = preset("vae", "tiny")
    single = train(run, quiet(tmp_path / "one"))
    mp.spawn(_ddp_process, args=(2, free_port(), run, tmp_path / "two"), nprocs=2, join=True)
    double = json.loads((tmp_path / "two" / "losses.json").read_text())
    assert len(double) == len(single) == run.train.steps
    # Not bit-equal: the all-reduce adds the two halves' gradients in another order.
    torch.testing.assert_close(torch.tensor(double), torch.tensor(single), rtol=1e-4, atol=1e-5)
    one, two = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-3, atol=1e-5)


def test_save_and_resume_continue_bit_identically(tmp_path):
    run = preset("audio", "tiny")
    continuous = train(run, quiet(tmp_path / "a", steps=4))
    first_half = train(run, quiet(tmp_path / "b", steps=2))
    second_half = train(run, quiet(tmp_path / "b", steps=4, resume=True))
    assert first_half + second_half == continuous
    a, b = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert all(torch.equal(a[name], b[name]) for name in a)
    ema_a, ema_b = final_weights(tmp_path / "a", "model"), final_weights(tmp_path / "b", "model")
    assert all(torch.equal(ema_a[name], ema_b[name]) for name in ema_a)


def test_a_run_writes_config_shards_events_and_an_exported_model(tmp_path):
    run = preset("vae", "tiny")
    small_shards = dataclasses.replace(run.train, max_shard_mib=0.05)  # 52 kB
    run = dataclasses.replace(run, train=small_shards)
    out = tmp_path / "run"
    train(run, quiet(out, export=tmp_path / "export"))
    assert load_run_config(out / "config.json") == run
    checkpoints = sorted((out / "checkpoints").glob("step-*"))
    assert [p.name for p in checkpoints] == ["step-00000002", "step-00000004"]
    shards = list(checkpoints[-1].glob("*.safetensors"))
    assert len(shards) > 3
    assert all(path.stat().st_size <= 0.05 * 1024 * 1024 for path in shards)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    exported = from_pretrained(tmp_path / "export")
    assert isinstance(exported, VideoVAE)
    ema = final_weights(out, "model")
    for name, tensor in exported.state_dict().items():
        assert torch.equal(tensor, ema[name].to(torch.bfloat16).float())


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path):
    run = preset("audio", "tiny")
    train(run, quiet(tmp_path, steps=2))
    with pytest.raises(InvalidRequest, match="--resume") as caught:
        train(run, quiet(tmp_path, steps=2))
    assert caught.value.param == "out"


@pytest.mark.parametrize(
    "args, field",
    [
        (["train", "vae", "--config", "huge"], "config"),
        (["train", "video", "--config", "tiny"], "target"),
        (["train", "dit", "--config", "huge"], "config"),
        (["train", "vae", "--config", "tiny", "--data", "/no/such/folder"], "data"),
        (["train", "vae", "--config", "tiny", "--steps", "-1"], "steps"),
    ],
)
def test_cli_errors_are_one_line_naming_the_field(tmp_path, args, field):
    result = subprocess.run(
        [sys.executable, "-m", "reelforge.cli", *args, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and field in result.stderr
    assert not (tmp_path / "run").exists()
