"""`reelforge models list` and `reelforge models check DIR`, as a user runs them (the real
command in a subprocess), on a snapshot folder written here: a model_index.json and
safetensors files holding only what their headers promise."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.cli import main
from reelforge.errors import ConfigError
from reelforge.models_cli import check_snapshot_dir, safetensors_parameters


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """A valid .safetensors file: header, then zeroed tensor bytes."""
    sizes = {"F32": 4, "BF16": 2, "F16": 2}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        nbytes = sizes[dtype] * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + bytes(offset))


def fake_snapshot(root: Path) -> Path:
    index = {
        "_class_name": "MyVideoPipeline",
        "_diffusers_version": "0.42.1",
        "transformer": ["diffusers", "MyTransformer"],
        "vae": ["diffusers", "MyVAE"],
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "feature_extractor": [None, None],
    }
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps(index))
    write_safetensors(
        root / "transformer" / "diffusion_pytorch_model-00001-of-00002.safetensors",
        {"blocks.0.weight": ("BF16", [64, 32]), "blocks.0.bias": ("BF16", [64])},
    )
    write_safetensors(
        root / "transformer" / "diffusion_pytorch_model-00002-of-00002.safetensors",
        {"blocks.1.weight": ("BF16", [64, 64])},
    )
    write_safetensors(
        root / "vae" / "diffusion_pytorch_model.safetensors", {"conv": ("F32", [3, 3, 8, 8])}
    )
    (root / "scheduler").mkdir()
    return root


def reelforge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REELFORGE_LTX2_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "reelforge.cli", "models", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_check_counts_parameters_and_dtypes_from_headers(tmp_path: Path) -> None:
    snapshot = fake_snapshot(tmp_path / "snap")
    report = check_snapshot_dir(snapshot)
    by_name = {c.name: c for c in report.components}
    assert set(by_name) == {"transformer", "vae", "scheduler"}  # [null, null] is absent
    assert by_name["transformer"].parameters == 64 * 32 + 64 + 64 * 64
    assert by_name["transformer"].files == 2 and dict(by_name["transformer"].dtypes) == {
        "BF16": 6208
    }
    assert dict(by_name["vae"].dtypes) == {"F32": 576} and by_name["scheduler"].parameters == 0
    peaks = report.estimated_peak_gib()
    assert peaks["1792x1024"] > peaks["720x1280"] > 0  # more pixels, more memory

    out = reelforge("check", str(snapshot), "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["pipeline_class"] == "MyVideoPipeline" and body["parameters"] == 6208 + 576


def test_an_unusable_folder_is_one_line_naming_the_path_and_exit_3(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    out = reelforge("check", str(missing))
    assert out.returncode == 3 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and str(missing) in out.stderr

    broken = fake_snapshot(tmp_path / "broken")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ConfigError, match="not a readable safetensors"):
        check_snapshot_dir(broken)
    (broken / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (broken / "vae").rmdir()
    with pytest.raises(ConfigError, match=r"vae: missing"):
        check_snapshot_dir(broken)


def test_safetensors_parameters_reads_no_tensor(tmp_path: Path) -> None:
    file = tmp_path / "big.safetensors"
    write_safetensors(file, {"w": ("F16", [1000, 1000])})
    with file.open("r+b") as stream:  # the tensor bytes gone: the header is all it needs
        stream.truncate(8 + int.from_bytes(stream.read(8), "little"))
    assert safetensors_parameters(file) == {"F16": 1_000_000}


def test_list_names_every_engine_and_whether_it_is_ready(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REELFORGE_LTX2_DIR", raising=False)
    assert main(["models", "list", "--json"]) == 0  # in-process: torch is imported once
    engines = {e["engine"]: e for e in json.loads(capsys.readouterr().out)["engines"]}
    assert {"sim", "dit", "ltx2"} <= set(engines)
    assert engines["sim"]["ready"] and engines["sim"]["capabilities"]["max_seconds"] == 20.0
    assert engines["dit"]["capabilities"]["max_seconds"] == 12.0
    ltx2_problem = engines["ltx2"]["problem"] or ""
    assert not engines["ltx2"]["ready"]
    assert "REELFORGE_LTX2_DIR" in ltx2_problem or "not installed" in ltx2_problem
