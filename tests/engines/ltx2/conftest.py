"""The tiny LTX-2 snapshot, built once per session, and the engine that loads it, both
with the network blocked: nothing here may reach the Hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.engines.ltx2.network_guard import network_blocked
from tests.engines.ltx2.tiny_snapshot import TEST_STEPS, save_tiny_snapshot

from reelforge.engines.ltx2 import LTX2Engine
from reelforge.settings import Settings


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    with network_blocked():
        yield


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "distilled" in the path: the engine takes the distilled recipe (guidance off).
    with network_blocked():
        return save_tiny_snapshot(tmp_path_factory.mktemp("snapshots") / "tiny-ltx2-distilled")


@pytest.fixture(scope="session")
def engine(tiny_snapshot: Path) -> LTX2Engine:
    with network_blocked():
        engine = LTX2Engine(Settings(ltx2_dir=tiny_snapshot, ltx2_steps=TEST_STEPS))
        engine.load()
    return engine


@pytest.fixture(scope="session")
def one_step_engine(tiny_snapshot: Path) -> LTX2Engine:
    """For the large sizes, where a step costs seconds on two cores: sizes do not depend
    on the step count."""
    with network_blocked():
        engine = LTX2Engine(Settings(ltx2_dir=tiny_snapshot, ltx2_steps=1))
        engine.load()
    return engine
