"""`reelforge generate` as a user runs it: a real process, real files."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge import __version__ as reelforge_version
from tests.conftest import ffprobe


def run_cli(*args: str, cwd: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REELFORGE_DATA_DIR=str(cwd / "data"), **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "reelforge.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


BAD_INPUTS = [
    (["generate", ""], "prompt"),
    (["generate", "   \t "], "prompt"),
    (["generate", "x" * 32_001], "prompt"),
    (["generate", "a ball", "--seconds", "0"], "seconds"),
    (["generate", "a ball", "--seconds", "20.5"], "seconds"),
    (["generate", "a ball", "--seconds", "ten"], "seconds"),
    (["generate", "a ball", "--size", "640x480"], "size"),
    (["generate", "a ball", "--fps", "60"], "fps"),
    (["generate", "a ball", "--fps", "24.5"], "fps"),
    (["generate", "a ball", "--seed", "-3"], "seed"),
    (["generate", "a ball", "--engine", "nope"], "engine"),
    (["generate", "a ball", "-o", "missing-dir/out.mp4"], "output"),
    (["generate", "a ball", "-o", "."], "output"),
    (["generate", "a ball", "-o", "clip.avi"], "output"),
    (["generate", "a ball", "-o", "/proc/reelforge.mp4"], "output"),
]


@pytest.mark.parametrize(("args", "field"), BAD_INPUTS, ids=[f for _, f in BAD_INPUTS])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, field):
    before = set(tmp_path.rglob("*"))
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert set(tmp_path.rglob("*")) - before <= {tmp_path / "data"}  # no clip, no temp file


def test_output_under_a_file_is_unwritable(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run_cli("generate", "a ball", "-o", str(tmp_path / "afile" / "out.mp4"), cwd=tmp_path)
    assert result.returncode == 2 and "output" in result.stderr


def test_generate_writes_mp4_and_sidecar_and_prints_the_path(tmp_path):
    out = tmp_path / "clip.mp4"
    result = run_cli(
        "generate",
        "two orange balls bounce on a tiled floor",
        "-o",
        str(out),
        "--seconds",
        "2",
        "--size",
        "360x640",
        "--fps",
        "30",
        "--seed",
        "9",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    probe = ffprobe(out)
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    audio = next(s for s in probe["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"], video["r_frame_rate"]) == (360, 640, "30/1")
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    assert abs(float(probe["format"]["duration"]) - 2.0) < 1 / 30 + 0.025
    sidecar = out.with_suffix(".json")
    assert sidecar.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == [
        "clip.json",
        "clip.mp4",
    ]


def test_interrupted_generation_leaves_nothing(tmp_path):
    """SIGINT mid-run: exit 130, and neither the MP4 nor a temp file is left."""
    import signal
    import time

    env = dict(os.environ, REELFORGE_DATA_DIR=str(tmp_path / "data"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reelforge.cli",
            "generate",
            "a red ball bounces",
            "-q",
            "-o",
            str(tmp_path / "clip.mp4"),
            "--seconds",
            "20",
            "--size",
            "1792x1024",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job inherits SIGINT ignored, and Python keeps it ignored;
        # give the child the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Interrupt mid-render, not mid-import: a SIGINT that lands while an extension runs
    # Python code at import can make the interpreter die by the signal after main returns.
    deadline = time.monotonic() + 90
    while not any(p.name.startswith(".clip.mp4.") for p in tmp_path.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, "no render started"
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert [p.name for p in tmp_path.iterdir() if p.name != "data"] == []


@pytest.mark.parametrize(
    ("name", "value"), [("REELFORGE_VIDEO_CRF", "99"), ("REELFORGE_VIDEO_PRESET", "warp-speed")]
)
def test_bad_setting_names_the_variable(tmp_path, name, value):
    result = run_cli("generate", "a ball", cwd=tmp_path, **{name: value})
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and name in result.stderr


def test_unexpected_failure_is_one_line_without_traceback(tmp_path, monkeypatch, capsys):
    from reelforge import cli, pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("disk controller on fire")

    monkeypatch.setattr(pipeline, "generate", broken)
    monkeypatch.setenv("REELFORGE_DATA_DIR", str(tmp_path))
    code = cli.main(["generate", "a ball", "-q", "-o", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: disk controller on fire" in err
    monkeypatch.setenv("REELFORGE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["generate", "a ball", "-q", "-o", str(tmp_path / "x.mp4")])


def test_the_collector_is_off_while_generate_starts_and_on_once_the_engine_runs(
    tmp_path, monkeypatch
):
    import gc

    from reelforge import cli, pipeline
    from reelforge.engines.sim import SimEngine

    collecting: dict[str, bool] = {}
    recaption, render = pipeline.recaption, SimEngine.generate

    def recaption_spy(*args, **kwargs):
        collecting["planning"] = gc.isenabled()
        return recaption(*args, **kwargs)

    def render_spy(self, *args, **kwargs):
        clip = render(self, *args, **kwargs)
        collecting["rendering"] = gc.isenabled()
        return clip

    monkeypatch.setattr(pipeline, "recaption", recaption_spy)
    monkeypatch.setattr(SimEngine, "generate", render_spy)
    monkeypatch.setenv("REELFORGE_DATA_DIR", str(tmp_path / "data"))
    args = ["generate", "a red ball", "--seconds", "1", "--size", "256x448", "-q"]
    try:
        assert cli.main([*args, "-o", str(tmp_path / "x.mp4")]) == 0
        assert collecting == {"planning": False, "rendering": True}
        assert gc.isenabled() and gc.get_freeze_count() > 0
        monkeypatch.setattr(pipeline, "generate", lambda *a, **k: 1 / 0)  # fails at once
        assert cli.main([*args, "-o", str(tmp_path / "y.mp4")]) == 1
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_eval_writes_report_summary_and_plots(tmp_path):
    out = tmp_path / "report"
    result = run_cli(
        "eval",
        "--engine",
        "sim",
        "--n",
        "2",
        "--seconds",
        "2",
        "--size",
        "360x640",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out / "summary.md")
    # stderr is a pipe, not a terminal: one progress line a prompt, then the summary line.
    lines = result.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines[:3]] == [
        "eval 0/2 single-001",
        "eval 1/2 single-002",
        "eval 2/2 done",
    ], result.stderr
    assert "min left" in lines[1] and lines[3].startswith("evaluated 2 prompts with sim")
    import json

    report = json.loads((out / "report.json").read_text())
    assert report["prompts"] == 2 and len(report["clips"]) == 2
    assert 0.0 <= report["summary"]["faithfulness"] <= 1.0
    assert "faithfulness" in (out / "summary.md").read_text()
    assert (out / "faithfulness.png").read_bytes()[:4] == b"\x89PNG"
    assert list((out / "clips").iterdir()) == []  # clips are removed unless --keep-clips


EVAL_BAD_INPUTS = [
    (["eval", "--engine", "nope"], "engine"),
    (["eval", "--suite", "missing.jsonl"], "suite"),
    (["eval", "--n", "0"], "n"),
    (["eval", "--seconds", "99"], "seconds"),
    (["eval", "--size", "1x1"], "size"),
]


@pytest.mark.parametrize(("args", "field"), EVAL_BAD_INPUTS, ids=[f for _, f in EVAL_BAD_INPUTS])
def test_eval_bad_input_one_line_exit_2(tmp_path, args, field):
    result = run_cli(*args, "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and field in result.stderr
    assert not (tmp_path / "r").exists()


def test_eval_bad_suite_line_names_the_line(tmp_path):
    suite = tmp_path / "suite.jsonl"
    suite.write_text('{"id": "a", "prompt": "a ball"}\n{not json\n')
    result = run_cli("eval", "--suite", str(suite), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2 and "line 2" in result.stderr


def test_bare_reelforge_prints_help_and_version_prints_the_version(tmp_path):
    bare = run_cli(cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.startswith("usage: reelforge")
    for command in ("generate", "serve", "verify", "eval"):
        assert f"    {command} " in bare.stdout
    assert "4 refused by the content policy" in " ".join(bare.stdout.split())
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"reelforge {reelforge_version}"


def test_a_policy_refusal_has_its_own_exit_status(tmp_path):
    before = set(tmp_path.rglob("*"))
    result = run_cli("generate", "a man beheads a prisoner, blood everywhere", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "graphic violence" in lines[0], result.stderr
    assert not {p for p in set(tmp_path.rglob("*")) - before if p.suffix == ".mp4"}


def test_every_option_says_what_it_takes():
    """Each generate/eval/serve option's help names its allowed values or its default."""
    from reelforge.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("generate", "eval", "serve"):
        for action in commands.choices[name]._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
                if action.default not in (None, False):
                    assert "default" in action.help, f"{name} {action.option_strings[0]}"
