"""The core prompt suite: reproducible, broad, within its rules, and read as intended."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reelforge.errors import InvalidRequest
from reelforge.eval.suite import (
    CORE_SETTING_KINDS,
    KINDS,
    MOTIONS,
    TAGS,
    ExpectedObject,
    SuitePrompt,
    default_suite_path,
    load_suite,
    write_suite,
)
from reelforge.eval.suite_builder import CHROMATIC, build_core_suite
from reelforge.recaption import recaption
from reelforge.recaption.vocabulary import MATERIALS
from reelforge.settings import Settings
from reelforge.types import ScenePlan

MIN_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def suite() -> list[SuitePrompt]:
    return load_suite(default_suite_path())


@pytest.fixture(scope="module")
def plans(suite: list[SuitePrompt]) -> dict[str, ScenePlan]:
    rules_only = Settings(recaption_llm_url=None)
    return {p.id: recaption(p.prompt, seed=0, settings=rules_only)[0] for p in suite}


def test_committed_suite_is_what_the_generator_builds(suite, tmp_path):
    built = build_core_suite()
    assert suite == built, "regenerate with: python -m reelforge.eval.suite_builder"
    out = tmp_path / "core.jsonl"
    write_suite(built, out)
    assert out.read_text(encoding="utf-8") == default_suite_path().read_text(encoding="utf-8")
    assert build_core_suite() == built  # deterministic


def test_suite_is_broad(suite):
    assert len(suite) >= 240
    ids = [p.id for p in suite]
    assert len(set(ids)) == len(ids)
    tags = Counter(t for p in suite for t in p.tags)
    assert {t: tags[t] for t in TAGS if tags[t] < 5} == {}
    objects = [o for p in suite for o in p.objects]
    assert {o.kind for o in objects} == set(KINDS)
    assert set(CHROMATIC) <= {o.color for o in objects}
    assert {o.material for o in objects} - {None} == set(MATERIALS)
    assert {o.motion for o in objects} - {None} == set(MOTIONS)
    assert {p.setting for p in suite} - {None} == set(CORE_SETTING_KINDS)
    assert {o.count for o in objects} >= {1, 2, 3, 4, 5, 6}
    assert sum(1 for p in suite if p.characters and p.dialogue) >= 35
    assert sum(1 for p in suite if sum(o.count for o in p.objects) == 1) >= 20
    assert sum(1 for p in suite if not p.objects and p.dialogue) >= 5
    assert {p.characters for p in suite} == {0, 1, 2}


def test_every_prompt_keeps_the_suite_rules(suite):
    for p in suite:
        colors = [o.color for o in p.objects]
        assert len(p.objects) <= 3, p.id
        assert len(set(colors)) == len(colors), p.id
        assert sum(o.count for o in p.objects) <= 6, p.id
        assert 0 <= p.characters <= 2, p.id
        assert not p.dialogue or p.characters, p.id
        for line in p.dialogue:
            assert 2 <= len(line.split()) <= 9, (p.id, line)
            assert f'"{line}' in p.prompt, (p.id, line)
        assert ("dialogue" in p.tags) == bool(p.dialogue), p.id
        assert ("characters" in p.tags) == bool(p.characters), p.id
        assert ("objects" in p.tags) == bool(p.objects), p.id
        assert ("settings" in p.tags) == (p.setting is not None), p.id
        assert p.prompt == p.prompt.strip() and p.prompt[-1] in '.!?"', p.id


def _spoken_in_order(plan: ScenePlan) -> list[str]:
    lines = [line for c in plan.characters for line in c.lines]
    return [line.text for line in sorted(lines, key=lambda line: line.start_s)]


def _disagreements(p: SuitePrompt, plan: ScenePlan) -> list[str]:
    problems = []
    got = sorted((o.kind, o.color, o.count) for o in plan.objects)
    want = sorted((o.kind, o.color, o.count) for o in p.objects)
    if got != want:
        problems.append(f"objects {got} != {want}")
    if len(plan.characters) != p.characters:
        problems.append(f"characters {len(plan.characters)} != {p.characters}")
    if _spoken_in_order(plan) != list(p.dialogue):
        problems.append(f"dialogue {_spoken_in_order(plan)} != {list(p.dialogue)}")
    if p.setting is not None and plan.setting.kind != p.setting:
        problems.append(f"setting {plan.setting.kind} != {p.setting}")
    return problems


def test_rule_recaptioner_reads_the_prompts_as_expected(suite, plans):
    failures = {p.id: (p.prompt, _disagreements(p, plans[p.id])) for p in suite}
    failures = {k: v for k, v in failures.items() if v[1]}
    agreement = 1 - len(failures) / len(suite)
    report = "\n".join(
        f"{k}: {prompt!r}: {'; '.join(why)}" for k, (prompt, why) in failures.items()
    )
    assert agreement >= MIN_AGREEMENT, f"agreement {agreement:.1%}; disagreeing:\n{report}"


def test_expected_materials_and_motions_match_the_rules(suite, plans):
    checked, wrong = 0, []
    for p in suite:
        by_group = {(o.kind, o.color, o.count): o for o in plans[p.id].objects}
        for want in p.objects:
            got = by_group.get((want.kind, want.color, want.count))
            if got is None:
                continue  # counted by the agreement test
            for field in ("material", "motion"):
                expected = getattr(want, field)
                if expected is not None:
                    checked += 1
                    if getattr(got, field) != expected:
                        wrong.append(
                            f"{p.id} {want.kind} {field}: {getattr(got, field)} != {expected}"
                        )
    assert checked > 200
    assert len(wrong) <= (1 - MIN_AGREEMENT) * checked, "\n".join(wrong)


# ---------------------------------------------------------------------------------------
# Reading suites

GOOD: dict[str, Any] = {
    "id": "x-001",
    "prompt": "A red ball bounces.",
    "tags": ["objects", "colors"],
    "objects": [{"kind": "ball", "color": "red", "count": 1}],
    "characters": 0,
    "dialogue": [],
    "setting": None,
}


def _write_lines(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _bad_object(**changes) -> str:
    obj = {**GOOD["objects"][0], **changes}
    return json.dumps({**GOOD, "id": "x-002", "objects": [obj]})


@pytest.mark.parametrize(
    ("bad_line", "words"),
    [
        ('{"id": "x-002", "prompt": "A ball', "not valid JSON"),
        (_bad_object(color="mauve"), "colour 'mauve'"),
        (_bad_object(count=0), "count"),
        (_bad_object(kind="pyramid"), "kind 'pyramid'"),
        (json.dumps({**GOOD, "id": "x-002", "characters": 3}), "characters"),
        (json.dumps({**GOOD, "id": "x-002", "setting": "moon"}), "setting 'moon'"),
        (json.dumps({**GOOD, "id": "x-002", "tags": ["shiny"]}), "tag 'shiny'"),
        (json.dumps(GOOD), "already used on line 1"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_load_suite_names_the_bad_line(tmp_path, bad_line, words):
    path = _write_lines(tmp_path / "s.jsonl", json.dumps(GOOD), "", bad_line)
    with pytest.raises(InvalidRequest) as info:
        load_suite(path)
    assert info.value.param == "suite"
    assert "line 3" in str(info.value)
    assert words in str(info.value)


def test_load_suite_reads_defaults_and_round_trips(tmp_path):
    minimal: dict[str, Any] = {
        "id": "y-001",
        "prompt": 'A man says, "Hello there."',
        "characters": 1,
    }
    path = _write_lines(tmp_path / "s.jsonl", json.dumps(GOOD), json.dumps(minimal))
    first, second = load_suite(path)
    assert first.objects == (ExpectedObject("ball", "red", 1),)
    assert second == SuitePrompt("y-001", minimal["prompt"], (), (), 1, (), None)
    write_suite([first, second], tmp_path / "out" / "t.jsonl")
    assert load_suite(tmp_path / "out" / "t.jsonl") == [first, second]


def test_load_suite_missing_file(tmp_path):
    with pytest.raises(InvalidRequest) as info:
        load_suite(tmp_path / "nope.jsonl")
    assert info.value.param == "suite"


def test_a_prompt_the_policy_refuses_is_reported_and_the_run_goes_on(tmp_path, settings):
    from reelforge.eval.runner import EvalOptions, run_suite
    from reelforge.eval.suite import SuitePrompt

    def prompt(id_: str, text: str) -> SuitePrompt:
        return SuitePrompt(id_, text, ("objects",), (), 0, (), None)

    prompts = [
        prompt("ok-1", "a red ball bounces on a wooden floor"),
        prompt("bad-1", "a graphic video of a man being beheaded"),
    ]
    options = EvalOptions(engine="sim", seconds=1.0, size="256x448")
    report = run_suite(prompts, options, tmp_path / "report", settings)
    assert [row["id"] for row in report["clips"]] == ["ok-1"]
    assert [entry["id"] for entry in report["blocked"]] == ["bad-1"]
    assert "refused by the content policy" in (tmp_path / "report" / "summary.md").read_text()
