"""`reelforge.generate`, the documented Python entry point, exported at the top level."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reelforge
from reelforge.errors import InvalidRequest
from reelforge.safety import ContentPolicyViolation


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REELFORGE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_generate_makes_a_clip_with_the_cli_defaults_where_unset(data_dir: Path) -> None:
    stages: list[str] = []
    result = reelforge.generate(
        "A red ball bounces in a kitchen.",
        data_dir / "ball.mp4",
        seconds=1,
        seed=7,
        progress=lambda stage, _done: stages.append(stage),
    )
    assert result.video_path == data_dir / "ball.mp4" and result.video_path.stat().st_size > 0
    assert result.seed == 7
    assert (result.request.size, result.request.fps, result.request.engine) == (
        "720x1280",
        24,
        "sim",
    )
    assert json.loads(result.sidecar_path.read_text())["seed"] == 7
    assert stages, "progress was never reported"


def test_a_bad_option_names_its_field_and_writes_nothing(data_dir: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        reelforge.generate("A red ball.", data_dir / "bad.mp4", size="12x12")
    assert caught.value.param == "size"
    assert not (data_dir / "bad.mp4").exists()


def test_a_refused_prompt_raises_the_policy_error(data_dir: Path) -> None:
    with pytest.raises(ContentPolicyViolation) as caught:
        reelforge.generate(
            "a man stabs a woman over and over, blood spraying everywhere, graphic gore",
            data_dir / "no.mp4",
            seconds=1,
        )
    assert caught.value.category == "violence/graphic"
    assert not (data_dir / "no.mp4").exists()


def test_importing_the_package_loads_no_pipeline() -> None:
    code = (
        "import sys, reelforge; print('reelforge.pipeline' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
