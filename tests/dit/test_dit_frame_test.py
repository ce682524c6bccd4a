"""benchmarks/dit_frame_test.py: the judge reads colour and kind from a 64x112 frame as the
eval would, blames only colours neither the plan nor the ceiling shows, and the verdict
follows the pass line written in docs/DIT.md. The hour of training is the benchmark's;
here only its parts, on synthetic frames."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import cv2
import numpy as np
import pytest

from . import benchmark_module


@pytest.fixture(scope="module")
def frame_test() -> ModuleType:
    return benchmark_module("dit_frame_test")


def _plan(*groups: tuple[str, str]) -> dict[str, Any]:
    return {"objects": [{"color": c, "kind": k} for c, k in groups]}


def _frame() -> np.ndarray:
    frame = np.full((112, 64, 3), 200, np.uint8)  # a pale wall: no colour the judge reads
    cv2.circle(frame, (20, 40), 6, (214, 40, 40), -1)  # a red ball
    cv2.rectangle(frame, (36, 70), (50, 84), (35, 90, 220), -1)  # a blue box
    return frame


def test_the_judge_reads_colour_and_kind(frame_test: ModuleType) -> None:
    frame = _frame()
    assert frame_test.seen_in(frame) == {"red": ["ball"], "blue": ["box"]}
    found = frame_test.judge(frame, _plan(("red", "ball"), ("blue", "triangle")), set())
    assert found == {"colour": [True, True], "kind": [True, False], "unasked": []}
    # An unknown colour is not judged; a colour the ceiling shows is the scene's.
    found = frame_test.judge(frame, _plan(("white", "box"), ("red", "ball")), {"blue"})
    assert found == {"colour": [True], "kind": [True], "unasked": []}
    assert frame_test.judge(frame, _plan(("red", "ball")), set())["unasked"] == ["blue"]


def test_noise_shows_colours_nobody_asked_for(frame_test: ModuleType) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (112, 64, 3), dtype=np.uint8)
    assert len(frame_test.judge(noise, _plan(("red", "ball")), set())["unasked"]) >= 3


def test_rates_pool_groups_with_an_interval(frame_test: ModuleType) -> None:
    rows = [{"colour": [True, False]}, {"colour": [True]}, {"colour": []}, {"colour": [False]}]
    found = frame_test.rate(rows, "colour", np.random.default_rng(0))
    assert found["rate"] == 0.5 and found["low"] <= 0.5 <= found["high"]


def _row(colour: float, kind: float, unasked: float, width: float = 0.05) -> dict[str, Any]:
    def r(v: float) -> dict[str, float]:
        return {"rate": v, "low": v - width, "high": v + width}

    return {"colour": r(colour), "kind": r(kind), "unasked_per_frame": unasked}


def test_the_verdict_follows_the_pass_line(frame_test: ModuleType) -> None:
    def table(model: dict[str, Any]) -> dict[str, Any]:
        return {
            "sim at 64x112 (ceiling)": _row(0.9, 0.6, 0.0),
            "model": model,
            "model, judged against another plan": _row(0.3, 0.1, 0.0),
        }

    assert frame_test.verdict(table(_row(0.7, 0.4, 0.5)))["passed"]
    assert not frame_test.verdict(table(_row(0.4, 0.4, 0.5)))["passed"]  # under half
    assert not frame_test.verdict(table(_row(0.7, 0.4, 2.0)))["passed"]  # paints every colour
    near_chance = frame_test.verdict(table(_row(0.7, 0.4, 0.5, width=0.35)))
    assert not near_chance["passed"] and not near_chance["checks"]["colour"]["above_chance"]


def test_the_contact_sheet_pairs_frames(frame_test: ModuleType) -> None:
    frames = np.zeros((8, 112, 64, 3), np.uint8)
    scenes = frame_test.Scenes(frames, [{}] * 8, [""] * 8)
    sheet = frame_test.contact_sheet(scenes, frames, count=8)
    assert sheet.shape == (2 * 224 + 8, 6 * 260 + 5 * 8, 3)


def test_object_weights_mark_small_saturated_regions(frame_test: ModuleType) -> None:
    frame = _frame()
    frame[100:, :] = (46, 170, 70)  # a band of grass across the frame: scenery
    weights = frame_test.object_weights(frame[None], 10.0)
    assert weights.shape == (1, 1, 112, 64)
    assert weights[0, 0, 40, 20] == 11.0 and weights[0, 0, 77, 43] == 11.0  # ball, box
    assert weights[0, 0, 40, 27] == 11.0  # the ball's edge, grown by a pixel
    assert weights[0, 0, 10, 10] == 1.0 and weights[0, 0, 105, 30] == 1.0  # wall, grass
    assert (frame_test.object_weights(frame[None], 0.0) == 1.0).all()
