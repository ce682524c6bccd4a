"""Installing: the two locks, the extras and the wheel. requirements-runtime.lock
(bin/quickstart) is exactly the base dependencies' closure, pinned as in requirements.lock;
generating and serving with the sim import nothing outside it; a wheel carries the weights."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from reelforge import extras

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock_tool() -> Any:
    """bin/lock-runtime, the script that writes the runtime lock, as a module."""
    loader = importlib.machinery.SourceFileLoader(
        "lock_runtime", str(ROOT / "bin" / "lock-runtime")
    )
    spec = importlib.util.spec_from_loader("lock_runtime", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


TOOL = _lock_tool()


FULL = TOOL.lock_pins(TOOL.FULL_LOCK)
RUNTIME_TEXT = TOOL.RUNTIME_LOCK.read_text()
RUNTIME = TOOL.lock_pins(TOOL.RUNTIME_LOCK)
# Imported only because the full install has them: each importer carries on without.
WHEN_PRESENT = {
    "sniffio": "anyio asks it which event loop runs, if it is installed",
    "charset-normalizer": "numpy.f2py (through scipy.fft) tries it",
    "httpx2": "Starlette's TestClient, which this test drives the app with",
}


def test_the_runtime_lock_is_the_base_closure_pinned_as_the_full_lock() -> None:
    build = set(TOOL.BUILD)
    assert set(RUNTIME) - build == TOOL.closure(
        TOOL.base_requirements(), set(TOOL.NOT_IMPORTED), FULL
    )
    assert {name: RUNTIME[name] for name in set(RUNTIME) - build} == {
        name: FULL[name] for name in set(RUNTIME) - build
    }
    assert not set(TOOL.NOT_IMPORTED) & set(RUNTIME)
    assert "torch" not in RUNTIME and "matplotlib" not in RUNTIME


def test_every_runtime_pin_carries_hashes() -> None:
    blocks = re.split(r"\n(?=[a-z0-9])", RUNTIME_TEXT.split("\n\n")[-1])
    entries = [b for b in blocks if re.match(r"[a-z0-9]", b)]
    assert len(entries) == len(RUNTIME)
    for entry in entries:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]


def test_every_extra_is_declared_and_pinned() -> None:
    declared = PYPROJECT["optional-dependencies"]
    assert set(extras.EXTRAS) <= set(declared)
    for name, specs in declared.items():
        for spec in specs:
            requirement = Requirement(spec)
            pinned = FULL.get(canonicalize_name(requirement.name))
            if requirement.name == "torch":
                continue  # installed first by bin/setup, the machine's CPU build
            assert pinned is not None, f"{name}: {spec} is not in requirements.lock"
            assert requirement.specifier.contains(pinned), f"{name}: {spec} vs {pinned}"


def test_a_missing_extra_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras.EXTRAS, "dit", ("torch", "reelforge_no_such_module"))
    with pytest.raises(extras.NotInstalled, match=r"`dit` extra \(reelforge_no_such_module"):
        extras.require("dit", "the dit engine")
    from reelforge.engines import get_engine
    from reelforge.settings import Settings

    with pytest.raises(extras.NotInstalled) as raised:
        get_engine("dit", Settings())
    assert raised.value.exit_code == 3 and raised.value.status == 503
    from reelforge.engines.capabilities import engine_info

    info = engine_info("dit", Settings())  # what /v1/models and `reelforge models` show
    assert info.capabilities is None and "`dit` extra" in (info.problem or "")


def test_generating_and_serving_import_only_the_runtime_lock(tmp_path: Path) -> None:
    """A clip generated and the app's pages served, in a fresh interpreter: every module
    loaded comes from a distribution in requirements-runtime.lock (or the standard library)."""
    code = textwrap.dedent(
        f"""
        import importlib.metadata as md, json, sys
        import reelforge
        reelforge.generate("a red ball bounces in a kitchen", {str(tmp_path / "clip.mp4")!r},
                           seconds=1)
        from fastapi.testclient import TestClient
        from reelforge.service.app import create_app
        from reelforge.settings import Settings
        import uvicorn, uvloop, httptools  # what `reelforge serve` runs on
        app = create_app(Settings(data_dir={str(tmp_path / "data")!r}), run_worker=False)
        with TestClient(app) as client:
            for path in ("/", "/healthz", "/readyz", "/metrics", "/v1/models"):
                assert client.get(path).status_code < 500, path
        names = md.packages_distributions()
        used = {{d for m in list(sys.modules) for d in names.get(m.split(".")[0], [])}}
        print(json.dumps(sorted(used)))
        """
    )
    env = os.environ | {"REELFORGE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    used = {canonicalize_name(d) for d in json.loads(done.stdout.splitlines()[-1])}
    assert "av" in used and "fastapi" in used  # the probe saw both paths
    outside = used - {"reelforge"} - set(RUNTIME) - set(WHEN_PRESENT)
    assert not outside, sorted(outside)


def test_a_wheel_carries_the_shipped_weights_where_the_engine_finds_them(tmp_path: Path) -> None:
    from reelforge.engines.dit.codecs import CHECKOUT_WEIGHTS, shipped_weights_dir

    source = tmp_path / "source"  # a copy: building writes build/ beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "src", "weights"):
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name,
                source / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("reelforge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for folder in ("dit", "video-vae", "audio-codec"):
        for shipped in (CHECKOUT_WEIGHTS / folder).iterdir():
            assert any(
                name.endswith(f".data/data/share/reelforge/weights/{folder}/{shipped.name}")
                for name in names
            ), shipped
    # A checkout's weights/ first; without one, the wheel's place under the prefix.
    assert shipped_weights_dir() == CHECKOUT_WEIGHTS
    installed = tmp_path / "prefix" / "share" / "reelforge" / "weights"
    assert shipped_weights_dir(tmp_path / "no-checkout", installed) == installed
