"""The two locks and the extras: requirements-runtime.lock (bin/quickstart) is exactly the
base dependencies' closure, pinned as in requirements.lock, and generating and serving with
the sim import nothing outside it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
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


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==([^ \\]+)", line):
            found[canonicalize_name(match[1])] = match[2]
    return found


FULL = TOOL.full_pins()
RUNTIME_TEXT = TOOL.RUNTIME_LOCK.read_text()
RUNTIME = pins(TOOL.RUNTIME_LOCK)
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
