"""Sharded safetensors: the shard limit, round trips, from_pretrained and its errors."""

from __future__ import annotations

import json

import pytest
import torch

from reelforge.engines.dit.checkpoint import (
    MIB,
    flatten_state,
    from_pretrained,
    load_sharded,
    save_pretrained,
    save_sharded,
    unflatten_state,
)
from reelforge.engines.dit.config import preset
from reelforge.engines.dit.video_vae import VideoVAE
from reelforge.errors import ConfigError


def test_shards_respect_the_limit_and_load_back_exactly(tmp_path):
    tensors = {f"layer{i}.weight": torch.randn(100, 100) for i in range(12)}  # 40 kB each
    limit = 100_000
    paths = save_sharded(tensors, tmp_path, "model", limit)
    assert len(paths) >= 5
    assert all(path.stat().st_size <= limit for path in paths)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(tensors)
    loaded = load_sharded(tmp_path)
    assert all(torch.equal(loaded[name], tensor) for name, tensor in tensors.items())


def test_a_tensor_larger_than_a_shard_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="big"):
        save_sharded({"big": torch.zeros(1000, 1000)}, tmp_path, "model", MIB)


def test_nested_optimizer_state_round_trips():
    state = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
        "param_groups": [{"lr": 0.1, "params": [0]}],
    }
    skeleton, tensors = flatten_state(state)
    restored = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert restored["param_groups"] == state["param_groups"]
    assert torch.equal(restored["state"][0]["exp_avg"], torch.ones(2))


def test_from_pretrained_restores_the_model_and_casts_to_float32(tmp_path):
    torch.manual_seed(0)
    vae = VideoVAE(preset("vae", "tiny").video)
    save_pretrained(vae, tmp_path, dtype=torch.bfloat16, max_shard_bytes=20_000)
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    loaded = from_pretrained(tmp_path)
    assert isinstance(loaded, VideoVAE) and loaded.config == vae.config
    for name, tensor in vae.state_dict().items():
        restored = loaded.state_dict()[name]
        assert restored.dtype == torch.float32
        assert torch.equal(restored, tensor.to(torch.bfloat16).float())


def test_from_pretrained_of_a_wrong_directory_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"no config\.json") as caught:
        from_pretrained(tmp_path / "nowhere")
    assert "nowhere" in str(caught.value) and caught.value.param == "path"
    (tmp_path / "config.json").write_text(json.dumps({"kind": "teapot", "config": {}}))
    with pytest.raises(ConfigError, match="kind"):
        from_pretrained(tmp_path)
