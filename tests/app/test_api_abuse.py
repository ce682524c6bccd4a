"""benchmarks/api_abuse.py (`api_load.py --abuse`), small: its hostile-JSON case against a
real `reelforge serve` (every body a 400 naming its code, the connection kept), and its
document section drawn from the stored results, each of the issue's figures with today's
on both backends."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dit import benchmark_module


def test_the_json_case_against_a_real_server(tmp_path: Path) -> None:
    bench = benchmark_module("api_abuse")
    with bench.backend("sqlite", tmp_path / "data", None, None) as where:
        keys = {"probe": bench.make_key(where.env, "probe")}
        server, url = bench.start_server(where.env, tmp_path / "server.log")
        try:
            cases = bench.case_json(bench.Target(url, server, where, keys, tmp_path))
        finally:
            bench.stop(server)
    assert len(cases) == 5
    for name, case in cases.items():
        assert case["status"] == 400 and case["connection_kept"], (name, case)
    assert cases["lone surrogate in an edit's video id"]["param"] == "video.id"
    assert cases["JSON nested 100,000 levels"]["code"] == "json_too_deep"


def test_the_section_has_every_figure_of_the_issue_on_both_backends() -> None:
    bench = benchmark_module("api_abuse")
    stored = json.loads(bench.RESULTS.read_text())
    assert set(stored["backends"]) == {"sqlite", "postgres"}
    text = bench.section(stored)
    table = [line for line in text.splitlines() if line.startswith("| ")][1:]  # no header
    rows = {line.split(" | ")[0].removeprefix("| "): line.split(" | ") for line in table}
    for label, before in bench.BEFORE.items():
        if before and not before.startswith("("):
            assert label in rows, label
            assert rows[label][1] == before
            assert all(cell.strip(" |") for cell in rows[label][2:]), rows[label]
    assert sum("idle sockets" in label for label in rows) >= 2
    assert text.startswith(bench.MARK_BEGIN) and text.endswith(bench.MARK_END)
