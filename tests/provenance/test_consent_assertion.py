"""Consent in provenance: a clip that casts verified cameos carries the reelforge consent
assertion in its signed C2PA manifest (the cameo ids, the grant each was cast under, the
policy's version; nothing biometric), and `verify`, the CLI and the feed's provenance
badge read it back. A clip without a cameo carries none."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reelforge import cli, pipeline
from reelforge.cameos.draw import likeness_reference
from reelforge.cameos.likeness import Likeness
from reelforge.db.models import Cameo, CameoUse, User, Video
from reelforge.db.session import make_engine, session_factory
from reelforge.deployment import Deployment
from reelforge.jobs.queue import JobQueue
from reelforge.jobs.worker import Worker, served_key
from reelforge.provenance.identity import load_identity
from reelforge.provenance.manifest import (
    CONSENT_LABEL,
    CameoConsent,
    Consent,
    ManifestFacts,
    build_manifest,
    read_manifest,
)
from reelforge.provenance.verify import verify_file
from reelforge.service.api.posts import _provenance_out
from reelforge.settings import Settings
from reelforge.storage import storage_from_settings
from reelforge.types import Request, ScenePlan

LIKENESS = Likeness(
    skin_rgb=(224, 172, 120),
    hair_rgb=(90, 55, 30),
    hair_length="short",
    shirt_rgb=(46, 170, 70),
    glasses=False,
    face_shape="oval",
    voice_pitch_hz=120.0,
    speech_rate=4.2,
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("consent-data"))


@pytest.fixture(scope="module")
def with_cameo(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> pipeline.Result:
    cameo = likeness_reference(
        LIKENESS, handle="@ada", cameo_id="cameo_0123abcd", grant="grant:bob:uses-left-2"
    )
    request = Request(
        prompt='@ada says "Hi there" in a park', seconds=1, size="360x640", seed=3, creator="bob"
    )
    out = tmp_path_factory.mktemp("cameo") / "clip.mp4"
    return pipeline.generate(request, out, settings=settings, cameos=(cameo,))


@pytest.fixture(scope="module")
def without_cameo(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> pipeline.Result:
    request = Request(prompt="A red ball bounces in a gym", seconds=1, size="360x640", seed=3)
    out = tmp_path_factory.mktemp("plain") / "clip.mp4"
    return pipeline.generate(request, out, settings=settings)


def test_a_clip_casting_a_cameo_carries_the_consent_assertion(with_cameo, settings):
    with with_cameo.video_path.open("rb") as stream:
        manifest = read_manifest(stream, load_identity(settings).trust_anchors_pem)
    assert manifest.state == "Trusted" and manifest.problems == []
    assert manifest.consent == {
        "cameos": [
            {"cameo_id": "cameo_0123abcd", "handle": "ada", "grant": "grant:bob:uses-left-2"}
        ],
        "policy_version": Deployment(settings).policy.policy_version,
    }
    assert manifest.cameo_ids == ["cameo_0123abcd"]
    sidecar = json.loads(with_cameo.sidecar_path.read_text())
    assert sidecar["consent"] == manifest.consent


def test_verify_reads_it_back(with_cameo, settings, capsys):
    report = verify_file(with_cameo.video_path, settings, registry=Deployment(settings).registry)
    assert report.c2pa.state == "Trusted"
    assert "casts the cameo of @ada" in report.summary
    assert report.public()["cameos"] == ["cameo_0123abcd"]
    assert report.public()["c2pa"]["consent"]["cameos"][0]["grant"] == "grant:bob:uses-left-2"
    badge = _provenance_out(report)
    assert badge.cameos == ["cameo_0123abcd"] and badge.c2pa_valid

    assert cli.main(["verify", str(with_cameo.video_path)]) == 0
    printed = capsys.readouterr().out
    assert "consent: cameo cameo_0123abcd (@ada) cast under grant grant:bob:uses-left-2" in printed


def test_a_clip_without_a_cameo_carries_none(without_cameo, settings, capsys):
    report = verify_file(without_cameo.video_path, settings, registry=Deployment(settings).registry)
    assert report.c2pa.state == "Trusted" and report.c2pa.consent is None
    assert report.public()["cameos"] == [] and "cameo" not in report.summary
    assert _provenance_out(report).cameos == []
    assert cli.main(["verify", str(without_cameo.video_path)]) == 0
    assert "consent" not in capsys.readouterr().out


def test_a_changed_file_names_no_cameos(with_cameo, settings, tmp_path):
    """An invalid manifest's claims are not believed: the badge names no cameo."""
    data = bytearray(with_cameo.video_path.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 400] ^= 0xFF
    changed = tmp_path / "changed.mp4"
    changed.write_bytes(bytes(data))
    report = verify_file(changed, settings, registry=Deployment(settings).registry)
    assert report.c2pa.state == "Invalid"
    assert report.public()["cameos"] == [] and _provenance_out(report).cameos == []


def test_the_assertion_holds_ids_not_likenesses():
    consent = Consent(
        cameos=(CameoConsent(cameo_id="c1", handle="ada", grant="owner"),), policy_version="v7"
    )
    facts = ManifestFacts(title="x.mp4", payload=1, duration_s=1.0, engine="sim", consent=consent)
    labels = {a["label"]: a["data"] for a in build_manifest(facts)["assertions"]}
    assert labels[CONSENT_LABEL] == {
        "cameos": [{"cameo_id": "c1", "handle": "ada", "grant": "owner"}],
        "policy_version": "v7",
    }
    text = json.dumps(labels[CONSENT_LABEL])
    assert not any(field in text for field in LIKENESS.as_dict())  # no skin, hair, voice...
    plain = ManifestFacts(title="x.mp4", payload=1, duration_s=1.0, engine="sim")
    assert CONSENT_LABEL not in {a["label"] for a in build_manifest(plain)["assertions"]}


def test_an_unverified_cameo_is_drawn_but_not_claimed(tmp_path: Path, settings: Settings):
    """A likeness without a cameo id (the eval's) is no consent to claim."""
    cameo = likeness_reference(LIKENESS, handle="someone")
    request = Request(prompt="@someone waves", seconds=1, size="360x640", seed=1)
    result = pipeline.generate(request, tmp_path / "c.mp4", settings=settings, cameos=(cameo,))
    with result.video_path.open("rb") as stream:
        assert read_manifest(stream).consent is None
    assert result.plan.characters[0].name == "someone"


def test_the_worker_draws_the_cameos_a_video_casts_and_names_them(tmp_path: Path):
    """A stored video's cameo_uses rows reach the pipeline through the job worker: the
    plan casts the owner's likeness, the manifest names the cameo and its grant, and a
    removed use or a deleted cameo is neither drawn nor named."""
    settings = Settings(data_dir=tmp_path / "data", visible_watermark=False)
    factory = session_factory(make_engine(settings))
    storage = storage_from_settings(settings)
    worker = Worker(Deployment(settings, factory=factory, storage=storage), JobQueue(settings))
    with factory() as db:
        db.add_all([User(id="u_ada", name="ada"), User(id="u_bob", name="bob")])
        db.flush()  # no relationships: the users go in first for the foreign keys
        db.add_all(
            [
                Cameo(
                    id="cameo_ada", owner_id="u_ada", handle="ada", kind="person",
                    access="approved", likeness_json=json.dumps(LIKENESS.as_dict()),
                    verified_at=1,
                ),
                Cameo(
                    id="cameo_gone", owner_id="u_bob", handle="bob", kind="person",
                    access="everyone", likeness_json=json.dumps(LIKENESS.as_dict()),
                    verified_at=1, deleted_at=2,
                ),
            ]
        )  # fmt: skip
        db.flush()
        for video_id in ("video_a", "video_b"):
            db.add(
                Video(
                    id=video_id, user_id="u_bob", model="sora-2", engine="sim",
                    prompt='@ada says "Hello" in a park', size="360x640", seconds="1", seed=5,
                )
            )  # fmt: skip
        db.add_all(
            [
                CameoUse(video_id="video_a", cameo_id="cameo_ada", caster_id="u_bob",
                         grant_id="grant_7"),
                CameoUse(video_id="video_a", cameo_id="cameo_gone", caster_id="u_bob"),
                CameoUse(video_id="video_b", cameo_id="cameo_ada", caster_id="u_bob",
                         status="removed"),
            ]
        )  # fmt: skip
        db.commit()
    for video_id in ("video_a", "video_b"):
        assert worker.claim(video_id)
        worker.process(video_id)
    with factory() as db:
        made = {v: db.get(Video, v) for v in ("video_a", "video_b")}
        assert all(v is not None and v.status == "completed" for v in made.values())
        plans = {v: ScenePlan.model_validate_json(made[v].plan_json or "") for v in made}  # type: ignore[union-attr]
    assert [c.name for c in plans["video_a"].characters] == ["ada"]
    assert plans["video_a"].characters[0].appearance.face_shape == "oval"
    assert "ada" not in [c.name for c in plans["video_b"].characters]

    def manifest_of(video_id: str) -> dict[str, object] | None:
        with storage.open(served_key(factory, video_id, "video")) as stream:
            return read_manifest(io.BytesIO(stream.read())).consent

    consent = manifest_of("video_a")
    assert consent is not None
    assert consent["cameos"] == [{"cameo_id": "cameo_ada", "handle": "ada", "grant": "grant_7"}]
    assert manifest_of("video_b") is None
