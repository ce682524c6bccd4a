"""One policy engine per session: loading data, weights and the encoder costs about a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reelforge.safety import PolicyEngine
from reelforge.safety.resources import TextTools, text_tools


@pytest.fixture(scope="package", autouse=True)
def one_blas_thread() -> Iterator[None]:
    """Checks embed one sentence at a time; on a small busy machine several BLAS threads
    mostly wait for each other (this package's tests take half as long with one). Only a
    speed-up: without threadpoolctl the tests run as they are."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    """No registry, no consent, in-memory audit: the content checks only."""
    engine = PolicyEngine()
    engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def tools() -> TextTools:
    return text_tools()
