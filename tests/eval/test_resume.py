"""An interrupted `reelforge eval` loses at most the prompt it was on: every measured
prompt is in rows.jsonl at once, and a resumed run generates only the others."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from reelforge import cli, pipeline
from reelforge.errors import InvalidRequest
from reelforge.eval.runner import ROWS, EvalOptions, run_suite
from reelforge.eval.suite import SuitePrompt, default_suite_path, load_suite

OPTIONS = EvalOptions(engine="sim", seconds=1.0, size="256x448")
REFUSED = SuitePrompt("bad-1", "a graphic video of a man being beheaded", (), (), 0, (), None)


@pytest.fixture
def prompts() -> list[SuitePrompt]:
    """A suite prompt, one the content policy refuses, another suite prompt."""
    suite = load_suite(default_suite_path())
    return [suite[0], REFUSED, suite[1]]


def interrupted_before(index: int):
    def progress(done: int, total: int, current: str) -> None:
        if done == index:
            raise KeyboardInterrupt

    return progress


@pytest.fixture
def generated(monkeypatch) -> list[str]:
    """The prompts pipeline.generate is asked for, from here on."""
    asked: list[str] = []
    real = pipeline.generate

    def counting(request, path, **kwargs):
        asked.append(request.prompt)
        return real(request, path, **kwargs)

    monkeypatch.setattr(pipeline, "generate", counting)
    return asked


def test_resume_generates_only_what_was_not_measured(tmp_path, settings, prompts, generated):
    out = tmp_path / "report"
    with pytest.raises(KeyboardInterrupt):
        run_suite(prompts, OPTIONS, out, settings, interrupted_before(2))
    header, *entries = (json.loads(line) for line in (out / ROWS).read_text().splitlines())
    assert header["prompts"] == [p.id for p in prompts]
    assert [e["id"] for e in entries] == ["single-001", "bad-1"]
    assert "row" in entries[0] and "blocked" in entries[1]
    with (out / ROWS).open("a") as rows:
        rows.write('{"id": "single-002", "prompt": "A ')  # a crash in mid-line

    with pytest.raises(InvalidRequest) as refused:  # not overwritten by a plain rerun
        run_suite(prompts, OPTIONS, out, settings)
    assert refused.value.param == "resume" and "2 of 3 prompts done" in str(refused.value)
    with pytest.raises(InvalidRequest) as changed:
        run_suite(prompts, dataclasses.replace(OPTIONS, seconds=2.0), out, settings, resume=True)
    assert changed.value.param == "resume" and "seconds 1.0" in str(changed.value)

    generated.clear()
    report = run_suite(prompts, OPTIONS, out, settings, resume=True)
    assert generated == [prompts[2].prompt]
    assert [c["id"] for c in report["clips"]] == ["single-001", "single-002"]
    assert json.dumps(report["clips"][0]) == json.dumps(entries[0]["row"])
    assert report["blocked"] == [entries[1]["blocked"]]
    saved = json.loads((out / "report.json").read_text())
    assert saved["wall_s"] == pytest.approx(sum(e["spent_s"] for e in entries) + _spent(out, 2))

    generated.clear()  # finished: a plain rerun starts afresh
    run_suite(prompts[:1], OPTIONS, out, settings)
    assert generated == [prompts[0].prompt]
    assert len((out / ROWS).read_text().splitlines()) == 2


def test_resume_redoes_a_prompt_whose_text_changed(tmp_path, settings, prompts, generated):
    out = tmp_path / "report"
    run_suite(prompts[:1], OPTIONS, out, settings)
    changed = dataclasses.replace(prompts[0], prompt=prompts[0].prompt + " Slowly.")
    generated.clear()
    report = run_suite([changed], OPTIONS, out, settings, resume=True)
    assert generated == [changed.prompt] and report["clips"][0]["prompt"] == changed.prompt


def test_resuming_a_part_of_a_run_keeps_the_rest(tmp_path, settings, prompts, generated):
    out = tmp_path / "report"
    both = [prompts[0], prompts[2]]
    run_suite(both, OPTIONS, out, settings)
    generated.clear()
    run_suite(both[1:], OPTIONS, out, settings, resume=True)
    report = run_suite(both, OPTIONS, out, settings, resume=True)
    assert generated == [] and [c["id"] for c in report["clips"]] == ["single-001", "single-002"]


def test_cli_resume(tmp_path, monkeypatch, capsys, prompts):
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps(dataclasses.asdict(prompts[0])) + "\n")
    monkeypatch.setenv("REELFORGE_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "report"
    out.mkdir()
    settings_of_run = {"engine": "sim", "seconds": 1.0, "size": "256x448", "fps": 24}
    header = {"settings": {**settings_of_run, "cameos": False}, "prompts": ["single-001"]}
    (out / ROWS).write_text(json.dumps(header) + "\n")  # a run stopped before its first clip
    args = ["eval", "--engine", "sim", "--suite", str(suite), "--seconds", "1"]
    args += ["--size", "256x448", "--out", str(out), "-q"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and "0 of 1 prompts done" in err
    assert cli.main([*args, "--resume"]) == 0
    assert json.loads((out / "report.json").read_text())["prompts"] == 1


def _spent(out: Path, line: int) -> float:
    return json.loads((out / ROWS).read_text().splitlines()[line + 1])["spent_s"]
