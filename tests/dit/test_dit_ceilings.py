"""benchmarks/dit_ceilings.py: a pixel-space representation loses what its size cannot
hold and keeps what it can, the summary pools the judge's rows as the table says, and the
section names every representation. The whole run (sim clips through the shipped codecs,
judged) is the benchmark's; here only its parts, on synthetic frames."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from . import benchmark_module


@pytest.fixture(scope="module")
def dit_ceilings() -> ModuleType:
    return benchmark_module("dit_ceilings")


def test_pixels_keep_a_large_square_and_lose_a_thin_line(dit_ceilings: ModuleType) -> None:
    frames = np.zeros((3, 448, 256, 3), np.uint8)
    frames[:, 100:300, 60:200] = 200  # 200 x 140 px: far above a 64x112 pixel
    frames[:, 400, :] = 255  # one row of pixels: a quarter of a 64x112 pixel
    audio = np.ones((2, 100), np.float32)
    back, sound = dit_ceilings.pixels(112, 64)(frames, audio, 48_000)
    assert back.shape == frames.shape and sound is audio
    assert abs(float(back[:, 150:250, 80:180].mean()) - 200) < 2
    assert back[:, 400, :].max() < 128  # the line is smeared below half its brightness


def test_summary_pools_the_rows(dit_ceilings: ModuleType) -> None:
    rows = [
        {"faithfulness": 1.0, "av_median_ms": 10.0, "av_f1": 0.5, "av_precision": 1.0,
         "flights": 2},
        {"faithfulness": 0.5, "av_median_ms": None, "av_f1": None, "av_precision": None,
         "flights": 0},
        {"faithfulness": 0.0, "av_median_ms": 30.0, "av_f1": 1.0, "av_precision": 0.5,
         "flights": 1},
    ]  # fmt: skip
    summary = dit_ceilings.summarise(rows)
    assert summary == {
        "clips": 3,
        "faithfulness": 0.5,
        "av_median_ms": 20.0,
        "av_f1": 0.75,
        "av_precision": 0.75,
        "clips_with_av": 2,
        "flights": 3,
    }
    args = type("Args", (), {"prompts": 3, "seconds": 4.0})()
    section = dit_ceilings.doc_section({"sim": summary, "pixels 64x112": summary}, args)
    assert section.startswith(dit_ceilings.BEGIN) and section.endswith(dit_ceilings.END)
    assert "| sim | 0.5 | 20.0 ms | 0.75 | 0.75 | 2 | 3 |" in section
    assert "| pixels 64x112 |" in section
