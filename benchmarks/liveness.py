"""The cameo verification checks' acceptance rates on fixture takes (docs/CAMEOS.md).

For each kind of take in tests/cameos/fixtures.py (positives, and one negative per check)
and each seed 0..--takes-1 (the seed picks the photograph, the espeak-ng voice, the digits,
the turn order and amplitude, the framing, the exposure and the pauses), the take is made,
encoded to MP4 and checked by `reelforge.cameos.liveness.check_take`.

    true acceptance     on positives: the share each check passes (and the whole verdict)
    false acceptance    on each negative kind: the share its targeted check passes (it
                        should fail), and the share whose whole verdict passes

    .venv/bin/python benchmarks/liveness.py              # 10 takes per kind, ~15 min on 2 cores
    .venv/bin/python benchmarks/liveness.py --takes 2 --no-write

Writes benchmarks/results/liveness.json and the marked table in docs/CAMEOS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmark_doc import write_section
from reelforge.cameos.liveness import check_take

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fixture takes live with the tests

from tests.cameos.fixtures import KINDS, make_take  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "liveness.json"
DOC = ROOT / "docs" / "CAMEOS.md"
BEGIN = "<!-- liveness benchmark: begin -->"
END = "<!-- liveness benchmark: end -->"
CHECKS = ("digits", "head_turns", "same_face", "lip_sync", "face_quality")
SYNCED_KINDS = ("positive", "wrong_digits", "no_turn", "wrong_order", "two_faces")
# The check(s) each negative kind is made to fail.
TARGETS = {
    "wrong_digits": ("digits",),
    "no_turn": ("head_turns",),
    "wrong_order": ("head_turns",),
    "still_photo": ("head_turns", "lip_sync"),
    "two_faces": ("same_face",),
    "other_audio": ("lip_sync",),
    "too_small": ("face_quality",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=10, help="takes per kind")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in KINDS:
            for seed in range(args.takes):
                take = make_take(kind, seed, Path(folder))
                started = time.perf_counter()
                verdict = check_take(take.path, take.challenge)
                seconds = time.perf_counter() - started
                row = {
                    "kind": kind,
                    "seed": seed,
                    "photo": take.photo,
                    "voice": take.voice,
                    "passed": verdict.passed,
                    "check_s": round(seconds, 2),
                    "checks": {
                        c.name: {"passed": c.passed, "detail": c.detail} for c in verdict.checks
                    },
                }
                rows.append(row)
                failed = [c.name for c in verdict.checks if not c.passed]
                print(
                    f"{kind:13s} {seed:3d} {take.photo:13s} {take.voice:13s} "
                    f"{seconds:5.1f} s  failed: {failed}",
                    flush=True,
                )
                take.path.unlink()
    summary = summarise(rows)
    print(table(summary, args.takes))
    if args.no_write:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "takes": rows}, indent=1) + "\n")
    write_section(BEGIN, END, table(summary, args.takes), doc=DOC)


def summarise(rows: list[dict]) -> dict:
    def share(kind: str, passed: Callable[[dict], bool]) -> float:
        chosen = [r for r in rows if r["kind"] == kind]
        return sum(1 for r in chosen if passed(r)) / max(1, len(chosen))

    def check(name: str) -> Callable[[dict], bool]:
        return lambda row: bool(row["checks"][name]["passed"])

    true_acceptance = {name: share("positive", check(name)) for name in CHECKS}
    true_acceptance["verdict"] = share("positive", lambda r: r["passed"])
    # lip_sync has more honest takes than the positives: every kind whose mouth moves with
    # its own audio.
    synced = [r for r in rows if r["kind"] in SYNCED_KINDS]
    lip_sync_synced = sum(r["checks"]["lip_sync"]["passed"] for r in synced) / max(1, len(synced))
    false_acceptance = {
        kind: {
            **{name: share(kind, check(name)) for name in targets},
            "verdict": share(kind, lambda r: r["passed"]),
        }
        for kind, targets in TARGETS.items()
    }
    seconds = sorted(r["check_s"] for r in rows)
    return {
        "takes_per_kind": len(rows) // len(KINDS),
        "true_acceptance": true_acceptance,
        "lip_sync_on_synced_takes": {"takes": len(synced), "accepted": lip_sync_synced},
        "false_acceptance": false_acceptance,
        "check_seconds_median": seconds[len(seconds) // 2] if seconds else 0.0,
    }


def table(summary: dict, takes: int) -> str:
    lines = [
        BEGIN,
        f"Measured by `benchmarks/liveness.py` on {takes} fixture takes per kind "
        f"(checking one take: median {summary['check_seconds_median']:.1f} s on 2 CPU cores).",
        "",
        "| takes | what should happen | check | accepted |",
        "| --- | --- | --- | --- |",
    ]
    for name, rate in summary["true_acceptance"].items():
        what = "the whole verdict" if name == "verdict" else name
        lines.append(f"| positive | accepted (true acceptance) | {what} | {rate:.0%} |")
    synced = summary["lip_sync_on_synced_takes"]
    lines.append(
        f"| every take with its own audio ({synced['takes']}: positive, "
        f"{', '.join(k.replace('_', ' ') for k in SYNCED_KINDS[1:])}) "
        f"| accepted (true acceptance) | lip_sync | {synced['accepted']:.0%} |"
    )
    for kind, rates in summary["false_acceptance"].items():
        for name, rate in rates.items():
            what = "the whole verdict" if name == "verdict" else name
            lines.append(
                f"| {kind.replace('_', ' ')} | refused (false acceptance) | {what} | {rate:.0%} |"
            )
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
