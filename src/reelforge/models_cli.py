"""`reelforge models`: which engines this installation has, and whether a folder of
weights can be used, without loading a tensor.

    reelforge models list         engines: where their weights are, whether they are
                                  installed and their weights present, capabilities
    reelforge models check DIR    a diffusers-format snapshot (an LTX-2 one for ltx2):
                                  its components from model_index.json, parameters and
                                  dtypes from each .safetensors header, estimated GPU
                                  memory at each API size; an unusable folder is one line
                                  naming the path, exit 3 (a ConfigError)

Parameter counts come from the safetensors headers (8-byte little-endian length, then a
JSON table of every tensor's dtype and shape), so checking a 60 GiB snapshot reads a few
kilobytes per file.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge.engines.capabilities import engine_info, known_engines
from reelforge.errors import ConfigError
from reelforge.settings import Settings
from reelforge.types import API_SIZES, DEFAULT_FPS, parse_size

DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
    "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip
MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on the JSON header
# Components kept in float32 when resident (the engine runs the vocoder in fp32); every
# other one in bf16.
FLOAT32_COMPONENTS = ("vocoder",)
# Peak memory beyond the weights, per decoded pixel-frame: one H200 measurement (issue
# 20: a 5 s 768x512 clip at 24 fps, 63 GiB of bf16 weights resident, 69 GiB peak), so
# about 135 bytes a pixel-frame. A rough guide for sizing a GPU, not a promise.
ACTIVATION_BYTES_PER_PIXEL_FRAME = 6 * 2**30 / (768 * 512 * 121)
ESTIMATE_SECONDS = 5.0
GIB = 2**30


def add_arguments(commands: Any) -> None:
    """The `models` command and its subcommands, on the CLI's subparsers."""
    models = commands.add_parser("models", help="engines, their weights, and snapshot checks")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", help="engines, their weights and capabilities")
    listing.add_argument("--json", action="store_true", help="one JSON object")
    check = model_commands.add_parser(
        "check", help="check a diffusers-format snapshot folder without loading it"
    )
    check.add_argument("dir", type=Path, metavar="DIR")
    check.add_argument("--json", action="store_true", help="one JSON object")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.models_command == "list":
        engines = list_engines(settings)
        if args.json:
            print(json.dumps({"engines": engines}, indent=2))
        else:
            for engine in engines:
                print(_engine_line(engine))
        return 0
    report = check_snapshot_dir(args.dir)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.text())
    return 0


# `models list` ---------------------------------------------------------------------------


def list_engines(settings: Settings) -> list[dict[str, Any]]:
    """Each engine: installed (its code imports), its weights folder and whether they are
    there, capabilities, and the problem in words when it cannot run."""
    return [_engine_entry(name, settings) for name in known_engines()]


def _engine_entry(name: str, settings: Settings) -> dict[str, Any]:
    info = engine_info(name, settings)
    weights, problem = _weights_of(name, settings)
    return {
        "engine": name,
        "installed": info.capabilities is not None,
        "weights": str(weights) if weights else None,
        "ready": info.capabilities is not None and problem is None,
        "problem": info.problem or problem,
        "capabilities": (
            {
                "max_seconds": info.capabilities.max_seconds,
                "sizes": list(info.capabilities.sizes),
                "fps": list(info.capabilities.fps),
                "image_input": info.capabilities.image_input,
                "cameos": info.capabilities.cameos,
                "audio": info.capabilities.audio,
            }
            if info.capabilities
            else None
        ),
    }


def _weights_of(name: str, settings: Settings) -> tuple[Path | None, str | None]:
    """Where engine `name` reads its weights, and what is wrong with them (None: usable
    as far as can be told without loading them)."""
    if name == "sim":
        return None, None  # drawn and spoken procedurally: no weights
    if name == "dit":
        from reelforge.engines.dit.codecs import WEIGHTS_DIR  # torch: only for dit

        weights = Path(settings.dit_weights or WEIGHTS_DIR / "dit")
        if not any(weights.glob("*.safetensors")):
            return weights, f"no .safetensors weights in {str(weights)!r}"
        return weights, None
    if name == "ltx2":
        folder = getattr(settings, "ltx2_dir", None)
        if folder is None:
            return None, "REELFORGE_LTX2_DIR is not set (or pass generate --model-dir DIR)"
        try:
            check_snapshot_dir(Path(folder))
        except ConfigError as error:
            return Path(folder), str(error)
        return Path(folder), None
    return None, None


def _engine_line(engine: dict[str, Any]) -> str:
    capabilities = engine["capabilities"]
    can = (
        f"up to {capabilities['max_seconds']:g} s, {len(capabilities['sizes'])} sizes, "
        f"fps {'/'.join(map(str, capabilities['fps']))}, "
        f"image {'yes' if capabilities['image_input'] else 'no'}, "
        f"cameos {'yes' if capabilities['cameos'] else 'no'}"
        if capabilities
        else "-"
    )
    state = "ready" if engine["ready"] else f"not ready: {engine['problem']}"
    return f"{engine['engine']:<6} {state}; weights: {engine['weights'] or '-'}; {can}"


# `models check DIR` ----------------------------------------------------------------------


@dataclass
class Component:
    name: str
    class_name: str
    files: int = 0
    parameters: int = 0
    stored_bytes: int = 0
    dtypes: Counter[str] = field(default_factory=Counter)  # parameters per dtype

    def resident_bytes(self) -> int:
        """On the GPU: bf16, or float32 for FLOAT32_COMPONENTS."""
        return self.parameters * (4 if self.name in FLOAT32_COMPONENTS else 2)


@dataclass
class SnapshotReport:
    path: Path
    pipeline_class: str
    components: list[Component]
    validated_as: str | None  # "LTX-2 (distilled)" when the ltx2 engine's check passed

    @property
    def parameters(self) -> int:
        return sum(c.parameters for c in self.components)

    def estimated_peak_gib(self) -> dict[str, float]:
        """Peak GPU memory per API size, everything resident, for ESTIMATE_SECONDS at
        DEFAULT_FPS: the weights plus activations scaled by pixel-frames."""
        weights = sum(c.resident_bytes() for c in self.components)
        frames = round(ESTIMATE_SECONDS * DEFAULT_FPS) + 1
        peaks = {}
        for size in API_SIZES:
            width, height = parse_size(size)
            activations = ACTIVATION_BYTES_PER_PIXEL_FRAME * width * height * frames
            peaks[size] = round((weights + activations) / GIB, 1)
        return peaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "pipeline_class": self.pipeline_class,
            "validated_as": self.validated_as,
            "parameters": self.parameters,
            "components": [
                {
                    "name": c.name,
                    "class": c.class_name,
                    "files": c.files,
                    "parameters": c.parameters,
                    "stored_bytes": c.stored_bytes,
                    "dtypes": dict(c.dtypes),
                }
                for c in self.components
            ],
            "estimated_peak_gib": self.estimated_peak_gib(),
            "estimate": f"{ESTIMATE_SECONDS:g} s at {DEFAULT_FPS} fps, all resident, rough",
        }

    def text(self) -> str:
        lines = [
            f"{self.path}: {self.pipeline_class}, {_count(self.parameters)} parameters"
            + (f", usable as {self.validated_as}" if self.validated_as else "")
        ]
        for c in self.components:
            dtypes = ", ".join(f"{d} {_count(n)}" for d, n in c.dtypes.most_common()) or "-"
            lines.append(
                f"  {c.name:<13} {c.class_name:<34} {_count(c.parameters):>7}  "
                f"{c.stored_bytes / GIB:6.2f} GiB on disk  {dtypes}"
            )
        lines.append(
            f"estimated peak GPU memory ({ESTIMATE_SECONDS:g} s at {DEFAULT_FPS} fps, all "
            "resident; rough, from one H200 measurement):"
        )
        lines += [f"  {size:<10} {gib:6.1f} GiB" for size, gib in self.estimated_peak_gib().items()]
        return "\n".join(lines)


def check_snapshot_dir(path: Path) -> SnapshotReport:
    """The report on the snapshot at `path`, or a ConfigError (one line naming the path)
    with the first thing that makes it unusable."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{path}: not a directory", param="dir")
    index_file = path / "model_index.json"
    try:
        index = json.loads(index_file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no model_index.json (not a diffusers snapshot)") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{index_file}: unreadable: {error}") from None
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise ConfigError(f"{index_file}: names no pipeline (_class_name)")
    components = [
        _read_component(path, name, entry[1])
        for name, entry in index.items()
        # diffusers writes [null, null] for a component the pipeline goes without
        if not name.startswith("_") and isinstance(entry, list) and len(entry) == 2 and entry[1]
    ]
    return SnapshotReport(path, index["_class_name"], components, _ltx2_check(path, index))


def _read_component(root: Path, name: str, class_name: str) -> Component:
    folder = root / name
    if not folder.is_dir():
        raise ConfigError(f"{folder}: missing (model_index.json names {name}: {class_name})")
    component = Component(name, str(class_name))
    for file in sorted(folder.glob("*.safetensors")):
        component.files += 1
        component.stored_bytes += file.stat().st_size
        for dtype, count in safetensors_parameters(file).items():
            component.dtypes[dtype] += count
            component.parameters += count
    return component


def safetensors_parameters(file: Path) -> Counter[str]:
    """Parameters per dtype in one .safetensors file, read from its header alone."""
    try:
        with file.open("rb") as stream:
            length = int.from_bytes(stream.read(8), "little")
            if not 0 < length <= MAX_HEADER_BYTES:
                raise ValueError(f"header length {length} out of range")
            header = json.loads(stream.read(length))
        counts: Counter[str] = Counter()
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            if entry["dtype"] not in DTYPE_BYTES:
                raise ValueError(f"tensor {name}: unknown dtype {entry['dtype']!r}")
            counts[entry["dtype"]] += math.prod(entry["shape"])
        return counts
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"{file}: not a readable safetensors file: {error}") from None


def _ltx2_check(path: Path, index: dict[str, Any]) -> str | None:
    """An LTX-2 snapshot (its pipeline class starts with LTX2) goes through the ltx2
    engine's own check, so `models check` and loading refuse the same folders."""
    if not str(index.get("_class_name", "")).startswith("LTX2"):
        return None
    try:
        from reelforge.engines.ltx2.snapshot import check_snapshot
    except ImportError:
        return None  # the engine is not installed: the generic reading above is all
    snapshot = check_snapshot(path)
    return f"LTX-2 ({snapshot.kind})"


def _count(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)
