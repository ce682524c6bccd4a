"""Shared fixtures: clips generated once per test session through the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from reelforge import pipeline
from reelforge.media import Decoded, decode_mp4
from reelforge.settings import Settings
from reelforge.types import Request, Result


def _own_redis_database() -> None:
    """Under pytest-xdist (`bin/test` runs two workers) each worker takes its own Redis
    database, so one test's queue never hands its jobs to another test's worker. Set
    before any test module reads the URL."""
    url, worker = os.environ.get("REELFORGE_TEST_REDIS_URL"), os.environ.get("PYTEST_XDIST_WORKER")
    if url and worker and worker.startswith("gw"):
        base = url.rsplit("/", 1)[0] if url.rsplit("/", 1)[-1].isdigit() else url.rstrip("/")
        os.environ["REELFORGE_TEST_REDIS_URL"] = f"{base}/{1 + int(worker[2:]) % 15}"


_own_redis_database()


@dataclass
class Generated:
    result: Result
    decoded: Decoded
    sidecar: dict

    @property
    def path(self) -> Path:
        return self.result.video_path


FIXED_WATERMARK_KEY = SecretStr("5eed" * 16)  # 32 bytes


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # As `reelforge eval` makes them: without the visible mark, which would otherwise cross
    # the objects the judge tests track (provenance tests use their own settings). The
    # invisible mark's pattern follows the key (random per data folder unless set) and
    # the payload; the judge's tests fix both, so a clip is the same on every run.
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        visible_watermark=False,
        watermark_key=FIXED_WATERMARK_KEY,
    )


def _generate(tmp: Path, settings: Settings, prompt: str, **kwargs) -> Generated:
    request = Request(prompt=prompt, **kwargs)
    result = pipeline.generate(request, tmp / "clip.mp4", settings=settings)
    return Generated(
        result, decode_mp4(result.video_path), json.loads(result.sidecar_path.read_text())
    )


@pytest.fixture(scope="session")
def objects_clip(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Generated:
    """Objects only: no speech, so every sound onset should come from a contact."""
    return _generate(
        tmp_path_factory.mktemp("objects"),
        settings,
        "Three red rubber balls, two blue wooden boxes and a yellow triangle fall "
        "onto the concrete floor of a studio.",
        seconds=5,
        size="360x640",
        fps=24,
        seed=11,
    )


@pytest.fixture(scope="session")
def bounce_clip(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Generated:
    """Two balls bouncing: sparse, well-separated contacts, for timing checks."""
    return _generate(
        tmp_path_factory.mktemp("bounce"),
        settings,
        "A red rubber ball and a blue rubber ball bounce on the wooden floor of a gym.",
        seconds=5,
        size="360x640",
        fps=24,
        seed=11,
    )


@pytest.fixture(scope="session")
def dialogue_clip(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Generated:
    return _generate(
        tmp_path_factory.mktemp("dialogue"),
        settings,
        'In a quiet room a woman says "Hello there, how are you doing today?" and '
        'a man replies "I am very well, thank you for asking."',
        seconds=8,
        size="720x1280",
        fps=24,
        seed=5,
    )


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)
