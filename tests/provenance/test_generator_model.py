"""The C2PA manifest names the published model an engine ran (ltx2: "LTX-2" and its
snapshot's identity) as the generating action's software agent and in reelforge's
generation assertion; engines of reelforge's own (sim, dit) are named as reelforge."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from reelforge import __version__
from reelforge.pipeline import _model_of
from reelforge.provenance.manifest import GENERATION_LABEL, ManifestFacts, build_manifest


def _created_agent(manifest: dict[str, Any]) -> dict[str, str]:
    actions = next(a for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2")
    created = next(a for a in actions["data"]["actions"] if a["action"] == "c2pa.created")
    agent: dict[str, str] = created["softwareAgent"]
    return agent


def _generation(manifest: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = next(
        a["data"] for a in manifest["assertions"] if a["label"] == GENERATION_LABEL
    )
    return data


def test_a_published_model_is_the_generating_agent_and_in_the_generation_assertion() -> None:
    facts = ManifestFacts(
        title="x.mp4", payload=1, duration_s=1.0, engine="ltx2", model=("LTX-2", "rev-abc123")
    )
    manifest = build_manifest(facts)
    assert _created_agent(manifest) == {"name": "LTX-2", "version": "rev-abc123"}
    generation = _generation(manifest)
    assert generation["engine"] == "ltx2"
    assert generation["model"] == {"name": "LTX-2", "version": "rev-abc123"}
    assert manifest["claim_generator_info"] == [{"name": "reelforge", "version": __version__}]


def test_reelforges_own_engines_are_named_as_reelforge() -> None:
    manifest = build_manifest(ManifestFacts(title="x.mp4", payload=1, duration_s=1.0, engine="sim"))
    assert _created_agent(manifest) == {"name": "reelforge", "version": __version__}
    assert "model" not in _generation(manifest)


def test_the_pipeline_reads_the_model_an_engine_declares() -> None:
    ltx2 = SimpleNamespace(name="ltx2", generator_name="LTX-2", generator_version="rev-1")
    assert _model_of(ltx2) == ("LTX-2", "rev-1")
    assert _model_of(SimpleNamespace(name="sim")) is None
