"""Frames of the sim engine's clips for the README: one mid-clip frame of each prompt in a
grid (docs/img/sim-gallery.jpg), and a strip of six frames of each (docs/img/strips/).

    .venv/bin/python benchmarks/gallery.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from reelforge import pipeline
from reelforge.media import decode_mp4
from reelforge.settings import Settings
from reelforge.types import Request

PROMPTS = (  # one per topic of the everyday suite
    "a golden retriever catches a frisbee on a beach at sunset",  # animals-001
    "a police car chases a motorcycle through the city",  # vehicles-005
    'a chef flips a pancake in a frying pan and says "Perfect!"',  # food-cooking-001
    "an archer shoots an arrow from a bow at a dartboard in the gym",  # sports-024
    "a man plays the flute as a snake sways out of a basket",  # music-023
    "a volcano erupts at night and launches a huge rock into the sky",  # nature-weather-010
    "a woman walks her poodle past a hotel",  # city-010
    "a cat pushes a mug until it falls off the kitchen counter",  # home-015
    "a lumberjack splits a log with an axe in the forest",  # work-016
    "the earth spins slowly in space as the sun rises behind it",  # space-015
    "a wizard waves a magic wand and a rabbit jumps out of a top hat",  # fantasy-003
    'a boss points at a chart and says "Sales are up!"',  # people-talking-009
)
THUMB = (270, 480)  # width, height of one cell


def main(out_dir: Path) -> None:
    cells, strips = [], []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", visible_watermark=False)
        for k, prompt in enumerate(PROMPTS):
            result = pipeline.generate(
                Request(prompt=prompt, seconds=4, seed=3), Path(tmp) / f"{k}.mp4",
                settings=settings,
            )  # fmt: skip
            frames = decode_mp4(result.video_path).frames
            pick = np.linspace(0, len(frames) - 1, 6).astype(int)
            cells.append(cv2.resize(frames[int(0.55 * (len(frames) - 1))], THUMB))
            strips.append(np.concatenate([cv2.resize(frames[i], (180, 320)) for i in pick], 1))
            print(f"{k:2d} {prompt}", file=sys.stderr)
    grid = np.concatenate(
        [np.concatenate(cells[row * 6 : row * 6 + 6], 1) for row in range(len(cells) // 6)], 0
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / "sim-gallery.jpg"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 82])  # fmt: skip
    strip_dir = out_dir / "strips"
    strip_dir.mkdir(exist_ok=True)
    for k, strip in enumerate(strips):
        cv2.imwrite(str(strip_dir / f"{k:02d}.jpg"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 80])  # fmt: skip


if __name__ == "__main__":
    main(Path(__file__).resolve().parent.parent / "docs" / "img")
