"""The rights registry: registered names block unless licensed; opt-in; persisted. One
protocol test for both backings: in memory (unit tests) and the service's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.db.policy import DatabaseRightsRegistry
from reelforge.db.session import make_engine, session_factory
from reelforge.errors import InvalidRequest
from reelforge.safety import InMemoryRightsRegistry, PolicyEngine, RightsRegistry
from reelforge.settings import Settings


def database_registry(data_dir: Path) -> DatabaseRightsRegistry:
    """A registry on its own connection pool to the data folder's database, as another
    process would have."""
    return DatabaseRightsRegistry(session_factory(make_engine(Settings(data_dir=data_dir))))


@pytest.fixture(params=["memory", "database"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> RightsRegistry:
    if request.param == "memory":
        return InMemoryRightsRegistry()
    return database_registry(tmp_path)


def test_registered_character_blocked_unless_licensed(registry: RightsRegistry) -> None:
    engine = PolicyEngine(registry=registry)
    prompt = "Captain Comet flying over a city at night"
    assert engine.check_request(prompt, requester="alice").allowed  # opt-in: not yet registered

    registry.register("comet-studios", "Captain Comet", kind="character", aliases=["The Comet"])
    blocked = engine.check_request(prompt, requester="alice")
    assert not blocked.allowed and blocked.category == "rights"
    assert "Captain Comet" in blocked.reason
    assert not engine.check_request("The Comet saves a cat", requester="alice").allowed
    assert not engine.check_request("Capt4in C0met flying", requester="alice").allowed

    registry.grant_licence("comet-studios", "alice", "Captain Comet")
    assert engine.check_request(prompt, requester="alice").allowed
    assert not engine.check_request(prompt, requester="bob").allowed
    assert engine.check_request(prompt, requester="comet-studios").allowed  # the holder


def test_registered_brand_with_capitals_only(registry: RightsRegistry) -> None:
    engine = PolicyEngine(registry=registry)
    registry.register("orchard-inc", "Orchard", kind="brand", cased=True)
    assert not engine.check_request("an Orchard phone on a table", requester="alice").allowed
    assert engine.check_request("an orchard of apple trees", requester="alice").allowed


def test_registry_refuses_bad_registrations(registry: RightsRegistry) -> None:
    registry.register("comet-studios", "Captain Comet", kind="character")
    with pytest.raises(InvalidRequest, match="already registered"):
        registry.register("someone-else", "captain  COMET", kind="character")
    with pytest.raises(InvalidRequest, match="kind must be one of"):
        registry.register("comet-studios", "Comet Girl", kind="mascot")
    with pytest.raises(InvalidRequest, match="name must contain"):
        registry.register("comet-studios", "!!!", kind="character")
    with pytest.raises(InvalidRequest, match="has not registered"):
        registry.grant_licence("someone-else", "alice", "Captain Comet")
    assert not registry.holds_licence("alice", "Captain Comet")
    assert not registry.holds_licence("alice", "Unregistered Name")


def test_the_database_registry_persists_and_sees_other_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reelforge.db.policy.INDEX_TTL_S", 0.0)  # look at the rows each time
    first = database_registry(tmp_path)
    first.register("comet-studios", "Captain Comet", kind="character")
    first.grant_licence("comet-studios", "alice", "Captain Comet")
    engine = PolicyEngine(registry=first)
    assert engine.check_request("Zap Lady fights a robot", requester="bob").allowed

    # Another process (here: another connection pool) registers a name; the first sees it.
    database_registry(tmp_path).register("zap-comics", "Zap Lady", kind="character")
    assert not engine.check_request("Zap Lady fights a robot", requester="bob").allowed

    reopened = database_registry(tmp_path)
    assert reopened.holds_licence("alice", "Captain Comet")
    assert not reopened.holds_licence("bob", "Captain Comet")
    assert reopened.holds_licence("zap-comics", "Zap Lady")
