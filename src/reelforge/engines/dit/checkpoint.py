"""Sharded safetensors checkpoints and `from_pretrained`.

A model directory holds config.json ({"kind", "config"}), model-0000i-of-0000n.safetensors
shards of at most `max_shard_bytes` each, and model.safetensors.index.json (which tensor
is in which shard, the Hugging Face layout). A training checkpoint adds the raw (non-EMA)
weights, the optimizer state (nested dicts flattened into tensors plus a JSON skeleton)
and trainer.json with the step.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from reelforge.engines.dit.audio_codec import AudioCodec
from reelforge.engines.dit.config import (
    AudioCodecConfig,
    DiTConfig,
    VideoVAEConfig,
    build_dataclass,
)
from reelforge.engines.dit.model import JointDiT
from reelforge.engines.dit.video_vae import VideoVAE
from reelforge.errors import ConfigError

MIB = 1024 * 1024
DEFAULT_MAX_SHARD_BYTES = 15 * MIB
_HEADER_BYTES_PER_TENSOR = 160  # generous: safetensors' JSON header entry per tensor

MODEL_KINDS: dict[str, tuple[type[nn.Module], type[Any]]] = {
    "video_vae": (VideoVAE, VideoVAEConfig),
    "audio_codec": (AudioCodec, AudioCodecConfig),
    "dit": (JointDiT, DiTConfig),
}


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODEL_KINDS.items():
        if isinstance(model, cls):
            return kind
    raise ConfigError(f"no checkpoint kind for {type(model).__name__}")


# ---------------------------------------------------------------------------------------
# Shards


def save_sharded(
    tensors: dict[str, torch.Tensor],
    directory: Path,
    prefix: str = "model",
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> list[Path]:
    """Write `tensors` as prefix-0000i-of-0000n.safetensors, each file ≤ max_shard_bytes,
    plus prefix.safetensors.index.json. Tensors are never split across shards."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    used = 8  # the header-length field
    for name, tensor in tensors.items():
        size = tensor.numel() * tensor.element_size() + _HEADER_BYTES_PER_TENSOR + len(name)
        if size + 8 > max_shard_bytes:
            raise ConfigError(
                f"tensor {name!r} ({size / MIB:.1f} MiB) does not fit in a "
                f"{max_shard_bytes / MIB:.1f} MiB shard",
                param="max_shard_mib",
            )
        if used + size > max_shard_bytes and shards[-1]:
            shards.append({})
            used = 8
        shards[-1][name] = tensor.detach().contiguous().cpu()
        used += size
    directory.mkdir(parents=True, exist_ok=True)
    paths, weight_map = [], {}
    for number, shard in enumerate(shards, 1):
        path = directory / f"{prefix}-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(path))
        paths.append(path)
        weight_map.update({name: path.name for name in shard})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / f"{prefix}.safetensors.index.json").write_text(json.dumps(index, indent=1))
    return paths


def load_sharded(directory: Path, prefix: str = "model") -> dict[str, torch.Tensor]:
    index_path = directory / f"{prefix}.safetensors.index.json"
    if not index_path.is_file():
        raise ConfigError(
            f"{str(directory)!r} has no {index_path.name} (not a reelforge checkpoint)",
            param="path",
        )
    weight_map: dict[str, str] = json.loads(index_path.read_text())["weight_map"]
    tensors: dict[str, torch.Tensor] = {}
    for shard in sorted(set(weight_map.values())):
        with safe_open(str(directory / shard), "pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
                tensors[name] = handle.get_tensor(name)
    return tensors


# ---------------------------------------------------------------------------------------
# Nested state (optimizer state dicts) ↔ flat tensors + JSON skeleton


def flatten_state(state: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Replace every tensor in nested dicts/lists by {"__tensor__": key}; return both."""
    tensors: dict[str, torch.Tensor] = {}
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state
        return {"__tensor__": prefix}, tensors
    if isinstance(state, dict):
        skeleton: dict[str, Any] = {}
        keys = {}
        for key, value in state.items():
            skeleton[str(key)], sub = flatten_state(value, f"{prefix}/{key}")
            keys[str(key)] = type(key).__name__
            tensors.update(sub)
        return {"__dict__": skeleton, "__keys__": keys}, tensors
    if isinstance(state, list | tuple):
        items = []
        for i, value in enumerate(state):
            item, sub = flatten_state(value, f"{prefix}/{i}")
            items.append(item)
            tensors.update(sub)
        return {"__list__": items}, tensors
    return state, tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict) and "__tensor__" in skeleton:
        return tensors[skeleton["__tensor__"]]
    if isinstance(skeleton, dict) and "__dict__" in skeleton:
        kinds = skeleton["__keys__"]
        return {
            (int(k) if kinds[k] == "int" else k): unflatten_state(v, tensors)
            for k, v in skeleton["__dict__"].items()
        }
    if isinstance(skeleton, dict) and "__list__" in skeleton:
        return [unflatten_state(v, tensors) for v in skeleton["__list__"]]
    return skeleton


# ---------------------------------------------------------------------------------------
# Models


def save_pretrained(
    model: nn.Module,
    directory: Path,
    *,
    state: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> None:
    """config.json + sharded weights (`state`, default the model's own), cast to `dtype`."""
    weights = state if state is not None else model.state_dict()
    if dtype is not None:
        weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()}
    config: Any = model.config  # nn.Module's __getattr__ would type it Tensor | Module
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("model-*.safetensors"):
        old.unlink()
    save_sharded(weights, directory, "model", max_shard_bytes)
    description = {"kind": model_kind(model), "config": dataclasses.asdict(config)}
    (directory / "config.json").write_text(json.dumps(description, indent=2) + "\n")


def from_pretrained(directory: Path | str, device: str | torch.device = "cpu") -> nn.Module:
    """Load a VideoVAE or AudioCodec saved by `save_pretrained` (weights in float32, eval
    mode). Raises ConfigError naming the path when it is not such a directory."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ConfigError(
            f"path {str(directory)!r} has no config.json (not a saved codec)", param="path"
        )
    description = json.loads(config_path.read_text())
    kind = description.get("kind")
    if kind not in MODEL_KINDS:
        raise ConfigError(
            f"kind in {str(config_path)!r} must be one of {', '.join(MODEL_KINDS)}, got {kind!r}",
            param="kind",
        )
    model_class, config_class = MODEL_KINDS[kind]
    model = model_class(build_dataclass(config_class, description["config"]))
    weights = {k: v.float() for k, v in load_sharded(directory).items()}
    model.load_state_dict(weights)
    return model.to(device).eval()


def replace_directory(staging: Path, final: Path) -> None:
    """Move a fully written `staging` directory to `final`, replacing what was there."""
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
