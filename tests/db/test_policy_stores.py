"""The content policy inside the pipeline, with its stores in the service database:
every request and clip is checked and audited; public figures need their own consent
through a cameo; registered names need a licence."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from reelforge import pipeline
from reelforge.db.keys import create_key
from reelforge.db.models import Cameo, PolicyAudit, User
from reelforge.db.policy import DatabaseConsent, DatabaseRightsRegistry, policy_engine
from reelforge.db.session import transaction
from reelforge.deployment import Deployment
from reelforge.safety import ContentPolicyViolation, PolicyEngine
from reelforge.settings import Settings
from reelforge.types import Request


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("policy-data"))


@pytest.fixture(scope="module")
def deployment(settings: Settings) -> Deployment:
    return Deployment(settings)


@pytest.fixture(scope="module")
def policy(deployment: Deployment) -> PolicyEngine:
    engine = policy_engine(deployment.settings, deployment.factory)
    engine.warm_up()
    return engine


def audit_rows(deployment: Deployment, requester: str) -> list[PolicyAudit]:
    with deployment.factory() as session:
        return list(
            session.scalars(
                select(PolicyAudit)
                .where(PolicyAudit.requester == requester)
                .order_by(PolicyAudit.id)
            )
        )


def test_blocked_prompt_writes_nothing_and_is_audited(settings, deployment, policy, tmp_path):
    out = tmp_path / "clip.mp4"
    with pytest.raises(ContentPolicyViolation) as blocked:
        pipeline.generate(
            Request(prompt="a graphic video of a man being beheaded", creator="mallory"),
            out,
            settings=settings,
            policy=policy,
        )
    assert blocked.value.code == "content_policy_violation"
    assert not out.exists() and not out.with_suffix(".json").exists()
    (row,) = audit_rows(deployment, "mallory")
    assert (row.stage, row.allowed, row.category) == ("request", False, "violence/graphic")
    assert "beheaded" in row.text and row.decided_at > 0 and row.policy_version


def test_an_allowed_clip_is_checked_twice_and_audited(settings, deployment, policy, tmp_path):
    pipeline.generate(
        Request(prompt='A red ball bounces. A boy says "Nice one!"', seconds=1, creator="bob"),
        tmp_path / "ok.mp4",
        settings=settings,
        policy=policy,
    )
    rows = audit_rows(deployment, "bob")
    assert [(r.stage, r.allowed) for r in rows] == [("request", True), ("clip", True)]
    assert "Nice one!" in rows[1].text  # the transcript of what was said


def test_planned_speech_is_checked(settings, deployment, policy, tmp_path):
    with pytest.raises(ContentPolicyViolation):
        pipeline.generate(
            Request(
                prompt='A girl in a kitchen says "Tonight I will finally kill myself."',
                seconds=1,
                creator="carol",
            ),
            tmp_path / "speech.mp4",
            settings=settings,
            policy=policy,
        )
    assert audit_rows(deployment, "carol")[-1].category == "self-harm"


def test_public_figures_need_their_own_cameo_consent(settings, deployment, policy):
    factory = deployment.factory
    with transaction(factory) as session:
        for name in ("serena", "fan", "stranger"):
            create_key(session, name)
    consent = DatabaseConsent(factory)
    prompt = "Serena Williams serves a tennis ball in a park"
    assert not policy.check_request(prompt, requester="fan").allowed
    consent.verify_figure("serena", "serena-williams")
    consent.allow("serena", "fan")
    assert not policy.check_request(prompt, requester="fan").allowed  # no cameo yet
    with transaction(factory) as session:
        owner = session.scalars(select(User).where(User.name == "serena")).one()
        session.add(Cameo(id="char_s", owner_id=owner.id, handle="serena_char", kind="character"))
    assert policy.check_request(prompt, requester="fan").allowed
    assert policy.check_request(prompt, requester="serena").allowed
    blocked = policy.check_request(prompt, requester="stranger")
    assert not blocked.allowed and blocked.category == "public_figure"
    consent.revoke("serena", "fan")
    assert not policy.check_request(prompt, requester="fan").allowed


def test_registered_names_need_a_licence(settings, deployment, policy):
    registry = DatabaseRightsRegistry(deployment.factory)
    prompt = "Captain Comet flies over a desert at sunset"
    assert policy.check_request(prompt, requester="fan").allowed  # not registered yet
    registry.register("studio", "Captain Comet", kind="character", aliases=["Cpt. Comet"])
    policy.registry._checked_at = 0.0  # skip the 2 s refresh wait
    blocked = policy.check_request(prompt, requester="fan")
    assert not blocked.allowed and blocked.category == "rights"
    assert not policy.check_request("cpt comet in a gym", requester="fan").allowed
    registry.grant_licence("studio", "fan", "Captain Comet")
    assert policy.check_request(prompt, requester="fan").allowed
    assert policy.check_request(prompt, requester="studio").allowed


def test_cli_admin_commands(settings, tmp_path):
    env = {"REELFORGE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reelforge.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("keys", "create", "--user", "studio").returncode == 0
    ok = run(
        "rights", "register", "--holder", "studio", "--name", "Moon Pup", "--kind", "character"
    )
    assert ok.returncode == 0, ok.stderr
    bad = run("rights", "register", "--holder", "x", "--name", "Moon Pup", "--kind", "toy")
    assert bad.returncode == 2 and "kind" in bad.stderr and len(bad.stderr.splitlines()) == 1
    unknown = run("cameo", "verify-figure", "--user", "studio", "--figure", "Nobody Atall")
    assert unknown.returncode == 2 and "figure" in unknown.stderr
    assert (
        run("cameo", "verify-figure", "--user", "studio", "--figure", "Joe Biden").returncode == 0
    )
    assert run("cameo", "allow", "--user", "studio", "--to", "everyone").returncode == 0
    missing = run("cameo", "allow", "--user", "ghost", "--to", "everyone")
    assert missing.returncode == 2 and "ghost" in missing.stderr
