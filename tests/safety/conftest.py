"""One policy engine per session: loading data, weights and the encoder costs about a second."""

from __future__ import annotations

import pytest

from reelforge.safety import PolicyEngine
from reelforge.safety.resources import TextTools, text_tools


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    """No registry, no consent, in-memory audit: the content checks only."""
    engine = PolicyEngine()
    engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def tools() -> TextTools:
    return text_tools()
