"""An LTX-2 snapshot on disk, checked before anything heavy is imported or loaded.

A snapshot is diffusers' layout (the Hub's "-Diffusers" repositories): `model_index.json`
naming the pipeline class and one folder per component, each with its config. Loading a
broken one through diffusers fails late and obscurely (`no file named config.json`, or
"neither a valid local path nor a valid repo id"), so the folder is read here first and a
problem is a ConfigError naming the path and what is missing.

The snapshot's identity (what the C2PA manifest names as the generator's version) is the
Hub revision when the folder is a Hub cache snapshot (`.../snapshots/<commit>/`), else the
folder's name, plus a digest of its configs: two copies of the same weights read the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reelforge.errors import ConfigError

PIPELINE_CLASSES = ("LTX2Pipeline", "LTX2ImageToVideoPipeline")
# Component folder → the config file that proves it is there.
REQUIRED_COMPONENTS = {
    "transformer": "config.json",
    "vae": "config.json",
    "audio_vae": "config.json",
    "connectors": "config.json",
    "vocoder": "config.json",
    "text_encoder": "config.json",
    "tokenizer": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
WEIGHT_SUFFIXES = (".safetensors", ".bin")
MODEL_NAME = "LTX-2"

Kind = Literal["distilled", "full"]


@dataclass(frozen=True)
class Snapshot:
    path: Path
    pipeline_class: str
    kind: Kind
    revision: str  # Hub commit or folder name
    config_sha256: str  # first 12 hex digits over model_index.json and every config
    parameters: int  # all components, from the weight files' headers

    @property
    def identity(self) -> str:
        """What the provenance names as the generator's version."""
        return f"{self.revision} (configs {self.config_sha256})"


def check_snapshot(path: Path) -> Snapshot:
    """The snapshot at `path`, or a ConfigError naming the path and what is wrong."""
    path = Path(path).expanduser()
    index_file = path / "model_index.json"
    if not path.is_dir():
        raise ConfigError(f"ltx2_dir {str(path)!r} is not a directory", param="ltx2_dir")
    if not index_file.is_file():
        raise ConfigError(
            f"ltx2_dir {str(path)!r} has no model_index.json: not a diffusers-format snapshot",
            param="ltx2_dir",
        )
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"{str(index_file)!r} is not readable JSON: {error}", param="ltx2_dir"
        ) from None
    pipeline_class = index.get("_class_name") if isinstance(index, dict) else None
    if pipeline_class not in PIPELINE_CLASSES:
        raise ConfigError(
            f"{str(index_file)!r} names pipeline {pipeline_class!r}, not one of "
            f"{', '.join(PIPELINE_CLASSES)}: not an LTX-2 snapshot",
            param="ltx2_dir",
        )
    missing = [
        f"{name}/{marker}"
        for name, marker in REQUIRED_COMPONENTS.items()
        if not (path / name / marker).is_file()
    ]
    missing += [
        f"{name}/ weights"
        for name in REQUIRED_COMPONENTS
        if name not in ("tokenizer", "scheduler")
        and (path / name).is_dir()
        and not any(f.suffix in WEIGHT_SUFFIXES for f in (path / name).iterdir())
    ]
    if missing:
        raise ConfigError(
            f"ltx2_dir {str(path)!r} is missing {', '.join(missing)}", param="ltx2_dir"
        )
    return Snapshot(
        path=path,
        pipeline_class=pipeline_class,
        kind=snapshot_kind(path),
        revision=_revision(path),
        config_sha256=_config_digest(path),
        parameters=sum(
            _safetensors_parameters(f)
            for name in REQUIRED_COMPONENTS
            for f in sorted((path / name).iterdir())
            if f.suffix == ".safetensors"
        ),
    )


def snapshot_kind(path: Path) -> Kind:
    """Distilled checkpoints (8 steps, no guidance) carry nothing in their configs that
    tells them from full ones; the Hub names them so (`LTX-2.3-Distilled-Diffusers`,
    `ltx-2-19b-distilled`), and the cache keeps that name in the path."""
    parts = Path(os.path.abspath(path)).parts
    return "distilled" if any("distill" in part.lower() for part in parts) else "full"


def _revision(path: Path) -> str:
    # Not resolved: a Hub cache's snapshots/<commit>/ may be reached through a symlink.
    absolute = Path(os.path.abspath(path))
    if absolute.parent.name == "snapshots" and absolute.parent.parent.name.startswith("models--"):
        repo = absolute.parent.parent.name.removeprefix("models--").replace("--", "/")
        return f"{repo}@{absolute.name[:12]}"
    return absolute.name


def _safetensors_parameters(file: Path) -> int:
    """Parameters in one .safetensors file, from its JSON header (8-byte little-endian
    length, then the header): no tensor is read."""
    try:
        with file.open("rb") as stream:
            length = int.from_bytes(stream.read(8), "little")
            if length > file.stat().st_size:
                raise ValueError(f"its header claims {length} bytes")
            header = json.loads(stream.read(length))
        return sum(
            math.prod(entry["shape"]) for key, entry in header.items() if key != "__metadata__"
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(
            f"{str(file)!r} is not a readable safetensors file: {error}", param="ltx2_dir"
        ) from None


def _config_digest(path: Path) -> str:
    digest = hashlib.sha256((path / "model_index.json").read_bytes())
    for name, marker in sorted(REQUIRED_COMPONENTS.items()):
        digest.update(name.encode())
        digest.update((path / name / marker).read_bytes())
    return digest.hexdigest()[:12]
