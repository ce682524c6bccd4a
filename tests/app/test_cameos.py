"""Cameos through the app's API: verification's challenge and bookkeeping, access levels,
grants, preferences, the owner's view and control of every video with their cameo, approval
before posting, revocation and deletion that follow remixes, and the hash-chained consent
log (export, tamper detection, `reelforge cameo audit`).

The liveness checks themselves are tested in tests/cameos/; here `check_take` is replaced
by a stand-in whose verdict each test chooses, so these tests exercise the rules around it.
The takes are still real MP4 files with audio (the route probes them before checking).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, func, select, update
from tests.app.conftest import AppUnderTest, Browser

from reelforge import cli, extras
from reelforge.cameos import liveness as liveness_module
from reelforge.cameos.likeness import Likeness
from reelforge.db.models import (
    Cameo,
    CameoAccessGrant,
    CameoChallenge,
    ConsentLogEntry,
    Notification,
    User,
    Video,
)
from reelforge.db.policy import DatabaseConsent
from reelforge.jobs.worker import MEDIA, media_key
from reelforge.media.mp4 import encode_mp4

REX = {"handle": "rex_the_dog", "display_name": "Rex"}
LIKENESS = Likeness(
    skin_rgb=(200, 160, 130),
    hair_rgb=(60, 40, 20),
    hair_length="short",
    shirt_rgb=(30, 60, 200),
    glasses=False,
    face_shape="oval",
    voice_pitch_hz=180.0,
    speech_rate=4.0,
)


# A stand-in for cameos/liveness.py ---------------------------------------------------


@dataclass(frozen=True)
class _Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class _Verdict:
    checks: tuple[_Check, ...]
    likeness: Likeness | None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class FakeLiveness:
    """Answers every take with `verdict`; remembers the challenges it was asked about."""

    verdict: _Verdict = field(
        default_factory=lambda: _Verdict((_Check("digits", True, "heard 4 7 1 9 3 0"),), LIKENESS)
    )
    seen: list[Any] = field(default_factory=list)

    def check_take(self, path: Path, challenge: Any) -> _Verdict:
        assert path.stat().st_size > 0
        self.seen.append(challenge)
        return self.verdict

    def fail(self, name: str, detail: str) -> None:
        self.verdict = _Verdict((_Check(name, False, detail),), None)


@pytest.fixture
def liveness(monkeypatch: pytest.MonkeyPatch) -> FakeLiveness:
    fake = FakeLiveness()
    monkeypatch.setattr(liveness_module, "check_take", fake.check_take)
    return fake


@pytest.fixture(scope="module")
def takes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real MP4s: a 6 s take with audio, one without audio, one too short, and junk."""
    out = tmp_path_factory.mktemp("takes")
    rng = np.random.default_rng(0)

    def clip(name: str, seconds: float, audio: bool) -> Path:
        fps, rate = 10, 16_000
        frames = rng.integers(0, 255, (int(seconds * fps), 64, 64, 3), dtype=np.uint8)
        t = np.arange(int(seconds * rate)) / rate
        sound = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
        path = out / f"{name}.mp4"
        encode_mp4(path, frames, sound if audio else np.zeros_like(sound), fps, rate)
        return path

    silent = clip("silent", 6, False)
    # encode_mp4 always writes an audio track; strip it to get a take without audio.
    import av

    mute = out / "mute.mp4"
    with av.open(str(silent)) as source, av.open(str(mute), "w") as sink:
        stream = sink.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                sink.mux(packet)
    junk = out / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    return {
        "good": clip("good", 6, True),
        "short": clip("short", 3, True),
        "mute": mute,
        "junk": junk,
    }


# Helpers -----------------------------------------------------------------------------


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


def submit(person: Browser, take: Path, challenge_id: str | None = None) -> Any:
    if challenge_id is None:
        made = person.post("/api/cameos/challenge")
        assert made.status_code == 200, made.text
        challenge_id = made.json()["id"]
    with take.open("rb") as handle:
        return person.post(
            "/api/cameos/verify",
            data={"challenge_id": challenge_id},
            files={"take": ("take.mp4", handle, "video/mp4")},
        )


def verified(site: AppUnderTest, handle: str, takes: dict[str, Path], **settings: Any) -> Browser:
    person = site.sign_up(handle)
    done = submit(person, takes["good"])
    assert done.status_code == 200 and done.json()["passed"], done.text
    if settings:
        assert person.patch(f"/api/cameos/{handle}", json=settings).status_code == 200
    return person


def make(person: Browser, prompt: str, cameos: list[str] | None = None) -> Any:
    return person.post("/api/videos", json={"prompt": prompt, "cameos": cameos or []})


def videos_of(site: AppUnderTest, user_id: str) -> int:
    with site.state.factory() as db:
        return (
            db.scalar(select(func.count()).select_from(Video).where(Video.user_id == user_id)) or 0
        )


def complete(site: AppUnderTest, video_id: str) -> None:
    """Finish a queued video with the sample clip's files (no engine run)."""
    with site.state.factory() as db:
        video = db.get(Video, video_id)
        assert video is not None
        video.status, video.progress, video.completed_at = "completed", 100, int(time.time())
        video.plan_json = site.sample["plan"].read_text()
        db.commit()
    for variant in MEDIA:
        site.state.storage.put_file(
            media_key(video_id, variant), site.sample[variant], MEDIA[variant][1]
        )


def log_events(owner: Browser, handle: str) -> list[str]:
    body = owner.get(f"/api/cameos/{handle}/log").json()
    assert body["intact"], body["problems"]
    return [e["event"] for e in body["entries"]]


def cameo_notes(site: AppUnderTest, user_id: str) -> list[str]:
    with site.state.factory() as db:
        return list(
            db.scalars(
                select(Notification.text)
                .where(Notification.user_id == user_id, Notification.type == "cameo")
                .order_by(Notification.id)
            )
        )


# Verification ------------------------------------------------------------------------


def test_a_challenge_is_single_use_expires_and_is_rate_limited(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    made = alice.post("/api/cameos/challenge").json()
    assert len(made["digits"].split()) >= 4 and made["turns"]
    assert made["expires_at"] - time.time() == pytest.approx(120, abs=5)

    assert error(submit(bob, takes["good"], made["id"]), 400)["param"] == "challenge_id"
    first = submit(alice, takes["good"], made["id"])
    assert first.status_code == 200 and first.json()["passed"], first.text
    assert liveness.seen[-1].turns == tuple(made["turns"])
    assert first.json()["cameo"] | {"verified_at": 0, "created_at": 0} == {
        "id": first.json()["cameo"]["id"],
        "handle": "alice",
        "kind": "person",
        "display_name": "alice",
        "access": "only_me",
        "approve_before_posting": False,
        "presets": {
            "no_appearance_changes": False,
            "no_embarrassing_or_romantic": False,
            "no_political": False,
        },
        "preferences": "",
        "verified": True,
        "verified_at": 0,
        "created_at": 0,
    }
    again = submit(alice, takes["good"], made["id"])
    assert "already used" in error(again, 400)["message"]

    stale = alice.post("/api/cameos/challenge").json()
    with site.state.factory() as db:
        db.execute(
            update(CameoChallenge)
            .where(CameoChallenge.id == stale["id"])
            .values(expires_at=int(time.time()) - 1)
        )
        db.commit()
    assert "expired" in error(submit(alice, takes["good"], stale["id"]), 400)["message"]

    for _ in range(3):  # five in ten minutes, then 429
        assert alice.post("/api/cameos/challenge").status_code == 200
    limited = alice.post("/api/cameos/challenge")
    assert error(limited, 429)["code"] == "rate_limit_exceeded"
    assert int(limited.headers["retry-after"]) > 0


def test_without_the_cameos_extra_verification_says_so_and_uses_up_nothing(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = site.sign_up("alice")
    made = alice.post("/api/cameos/challenge").json()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(extras.EXTRAS, "cameos", ("reelforge_no_such_module",))
        for response in (
            alice.post("/api/cameos/challenge"),
            submit(alice, takes["good"], made["id"]),
        ):
            body = error(response, 503)
            assert body["code"] == "not_installed"
            assert "`cameos` extra" in body["message"] and "Traceback" not in response.text
    done = submit(alice, takes["good"], made["id"])  # the challenge was not used up
    assert done.status_code == 200 and done.json()["passed"], done.text


def test_a_failed_take_says_why_keeps_nothing_and_is_logged(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = site.sign_up("alice")
    liveness.fail("head_turns", "turned right first, expected left")
    failed = submit(alice, takes["good"])
    assert failed.status_code == 200, failed.text
    assert failed.json()["passed"] is False
    assert failed.json()["checks"] == [
        {"name": "head_turns", "passed": False, "detail": "turned right first, expected left"}
    ]
    assert failed.json()["cameo"]["verified"] is False
    with site.state.factory() as db:
        cameo = db.scalar(select(Cameo).where(Cameo.handle == "alice"))
        assert cameo is not None and cameo.take_key is None and cameo.likeness_json is None

    for take, why in (
        ("junk", "not a readable video"),
        ("mute", "no audio"),
        ("short", "5-15 s"),
    ):
        bad = error(submit(alice, takes[take]), 422)
        assert (bad["param"], bad["code"]) == ("take", "invalid_take") and why in bad["message"]
    no_take = alice.post(
        "/api/cameos/verify", data={"challenge_id": "x"}, files={"other": ("a", b"b")}
    )
    assert error(no_take, 400)["param"] == "take"

    body = alice.get("/api/cameos/alice/log").json()
    verifies = [e["detail"] for e in body["entries"] if e["event"] == "verify"]
    assert [v["passed"] for v in verifies] == [False] * 4
    assert verifies[1]["checks"][0]["name"] == "readable"
    # Cast before verification: refused.
    assert error(make(alice, "@alice waves"), 403)["code"] == "cameo_not_allowed"

    liveness.verdict = FakeLiveness().verdict
    passed = submit(alice, takes["good"])
    assert passed.json()["passed"] is True
    with site.state.factory() as db:
        cameo = db.scalar(select(Cameo).where(Cameo.handle == "alice"))
        assert cameo is not None and cameo.take_key is not None
        assert Likeness.from_dict(json.loads(cameo.likeness_json or "{}")) == LIKENESS
        assert site.state.storage.exists(cameo.take_key)


def test_a_public_figures_cameo_is_only_for_the_verified_figure(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    fake = site.sign_up("serena_williams")
    refused = error(submit(fake, takes["good"]), 403)
    assert (refused["param"], refused["code"]) == ("handle", "public_figure")
    with site.state.factory() as db:
        db.execute(
            update(User).where(User.name == "serena_williams").values(figure_key="serena-williams")
        )
        db.commit()
    assert submit(fake, takes["good"]).json()["passed"] is True

    # The policy engine's consent (a prompt naming her) follows her cameo's access.
    consent = DatabaseConsent(site.state.factory)
    site.sign_up("bob")
    assert consent.allows("serena-williams", "serena_williams")
    assert not consent.allows("serena-williams", "bob")
    fake.patch("/api/cameos/serena_williams", json={"access": "approved"})
    assert fake.post("/api/cameos/serena_williams/grants/bob").status_code == 200
    assert consent.allows("serena-williams", "bob")
    with site.state.factory() as db:
        db.execute(update(CameoAccessGrant).values(expires_at=int(time.time()) - 1))
        db.commit()
    assert not consent.allows("serena-williams", "bob")
    fake.patch("/api/cameos/serena_williams", json={"access": "everyone"})
    assert consent.allows("serena-williams", "bob")
    assert fake.delete("/api/cameos/serena_williams").status_code == 200
    assert not consent.allows("serena-williams", "bob")


# Characters --------------------------------------------------------------------------


def test_a_character_needs_no_take_but_cannot_be_a_real_person(
    site: AppUnderTest, liveness: FakeLiveness
) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    rex = alice.post(
        "/api/cameos/characters", json={"handle": "rex_the_dog", "display_name": "Rex"}
    )
    assert rex.status_code == 200, rex.text
    assert (rex.json()["kind"], rex.json()["verified"]) == ("character", True)
    for body, param in (
        ({"handle": "bob", "display_name": "Bobby"}, "handle"),
        ({"handle": "not_him", "display_name": "Serena Williams"}, "display_name"),
        ({"handle": "taylor_swift", "display_name": "Tay"}, "handle"),
        ({"handle": "x", "display_name": "Tiny"}, "handle"),
    ):
        assert error(alice.post("/api/cameos/characters", json=body), 400)["param"] == param
    taken = alice.post(
        "/api/cameos/characters", json={"handle": "rex_the_dog", "display_name": "R"}
    )
    assert error(taken, 409)["code"] == "handle_taken"

    assert error(make(bob, "@rex_the_dog fetches a stick"), 403)["param"] == "cameos"
    assert alice.patch("/api/cameos/rex_the_dog", json={"access": "everyone"}).status_code == 200
    made = make(bob, "a dog fetches a stick", ["rex_the_dog"])
    assert made.status_code == 200, made.text
    assert "@rex_the_dog" in made.json()["prompt"]


# Casting -----------------------------------------------------------------------------


def test_access_levels_only_me_mutuals_approved_everyone(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes)
    bob, carol = site.sign_up("bob"), site.sign_up("carol")
    assert make(alice, "@alice waves hello").status_code == 200  # the owner, at only_me

    refused = error(make(bob, "@alice waves hello"), 403)
    assert (refused["param"], refused["code"]) == ("cameos", "cameo_not_allowed")
    assert "keeps it to themself" in refused["message"]
    assert videos_of(site, bob.user_id) == 0  # nothing generated

    alice.patch("/api/cameos/alice", json={"access": "mutuals"})
    assert bob.post("/api/users/alice/follow").status_code == 200
    assert make(bob, "@alice waves").status_code == 403  # one way is not mutual
    assert alice.post("/api/users/bob/follow").status_code == 200
    assert make(bob, "@alice waves").status_code == 200
    assert make(carol, "@alice waves").status_code == 403

    alice.patch("/api/cameos/alice", json={"access": "approved"})
    assert make(bob, "@alice waves").status_code == 403  # mutual, but not approved
    assert alice.post("/api/cameos/alice/grants/carol").status_code == 200
    assert make(carol, "@alice waves").status_code == 200

    alice.patch("/api/cameos/alice", json={"access": "everyone"})
    assert make(bob, "a park", ["@alice"]).status_code == 200
    site.sign_up("erin")
    assert error(make(bob, "@erin dances"), 403)["message"].endswith(
        "has no cameo, so their likeness cannot be used"
    )
    assert error(make(bob, "a park", ["nobody_here"]), 400)["code"] == "unknown_handle"
    assert make(bob, "a sign says @nobody_here").status_code == 200  # just text
    three = alice.post(
        "/api/cameos/characters", json={"handle": "rex_the_dog", "display_name": "Rex"}
    )
    assert three.status_code == 200
    alice.post("/api/cameos/characters", json={"handle": "kit_the_cat", "display_name": "Kit"})
    over = make(alice, "@alice @rex_the_dog and @kit_the_cat")
    assert error(over, 400)["code"] == "too_many_cameos"

    events = log_events(alice, "alice")
    assert events.count("cast_blocked") == 4 and events.count("draft") == 4
    blocked = [
        e["detail"]["rule"]
        for e in alice.get("/api/cameos/alice/log").json()["entries"]
        if e["event"] == "cast_blocked"
    ]
    assert blocked == ["only_me", "no_grant", "no_grant", "no_grant"]


def test_grants_expire_and_count_uses(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="approved")
    bob, carol = site.sign_up("bob"), site.sign_up("carol")
    once = alice.post("/api/cameos/alice/grants/bob", json={"uses": 1})
    assert once.json()["uses_left"] == 1
    assert make(bob, "@alice juggles").status_code == 200
    used_up = error(make(bob, "@alice juggles again"), 403)
    assert "used every video" in used_up["message"]

    soon = int(time.time()) + 3600
    assert (
        alice.post("/api/cameos/alice/grants/carol", json={"expires_at": soon}).status_code == 200
    )
    assert make(carol, "@alice sings").status_code == 200
    with site.state.factory() as db:
        db.execute(update(CameoAccessGrant).values(expires_at=int(time.time()) - 1))
        db.commit()
    assert "expired" in error(make(carol, "@alice sings"), 403)["message"]
    past = alice.post("/api/cameos/alice/grants/carol", json={"expires_at": 5})
    assert error(past, 400)["param"] == "expires_at"
    assert error(alice.post("/api/cameos/alice/grants/nobody_x"), 404)["param"] == "grantee"
    assert (
        error(alice.post("/api/cameos/alice/grants/bob", json={"uses": 0}), 400)["param"] == "uses"
    )

    grants = alice.get("/api/cameos/alice").json()["grants"]
    assert {g["grantee"]: g["uses_left"] for g in grants} == {"bob": 0, "carol": None}


def test_presets_and_free_text_preferences_block_a_prompt(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(
        site,
        "alice",
        takes,
        access="everyone",
        no_political=True,
        no_embarrassing_or_romantic=True,
        no_appearance_changes=True,
        preferences="No eating meat. Please don't show me playing sports",
    )
    bob = site.sign_up("bob")
    for prompt, why in (
        ("@alice gives a speech at an election rally", "no political content"),
        ("@alice kisses a stranger on a bench", "no embarrassing or romantic"),
        ("@alice with a shaved head and a beard", "no changes to their appearance"),
        ("@alice eats a burger at a diner", "no eating meat"),
        ("@alice plays tennis in the sun", "playing sports"),
    ):
        refused = error(make(bob, prompt), 403)
        assert refused["param"] == "cameos" and why in refused["message"], (prompt, refused)
    assert videos_of(site, bob.user_id) == 0
    for prompt in ("@alice walks a dog in the park", "@alice paints a portrait of a cat"):
        assert make(bob, prompt).status_code == 200, prompt
    # The owner's own videos are not held to the rules they set for others.
    assert make(alice, "@alice eats a burger").status_code == 200

    rules = [
        e["detail"]["rule"]
        for e in alice.get("/api/cameos/alice/log").json()["entries"]
        if e["event"] == "cast_blocked"
    ]
    assert rules == [
        "no_political",
        "no_embarrassing_or_romantic",
        "no_appearance_changes",
        "preferences",
        "preferences",
    ]


# The owner's control -----------------------------------------------------------------


def test_the_owner_sees_and_deletes_others_drafts_and_hears_of_every_use(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="everyone")
    bob, carol = site.sign_up("bob"), site.sign_up("carol")
    with site.state.factory() as db:  # muted or not: a cameo's use is always told
        db.execute(update(User).where(User.id == alice.user_id).values(muted_notifications="cameo"))
        db.commit()
    draft = make(bob, "@alice rides a bicycle").json()
    assert cameo_notes(site, alice.user_id) == ["@bob made a draft with your cameo @alice."]

    listed = alice.get("/api/cameos/alice/videos").json()["data"]
    assert [
        (v["video_id"], v["creator"], v["prompt"], v["status"], v["posted"]) for v in listed
    ] == [(draft["id"], "bob", "@alice rides a bicycle", "drafted", False)]
    for other in (bob, carol):  # someone else's cameo is a 404, as if it did not exist
        for url in ("/api/cameos/alice", "/api/cameos/alice/videos", "/api/cameos/alice/log"):
            assert error(other.get(url), 404)["param"] == "handle"
        assert other.patch("/api/cameos/alice", json={"access": "only_me"}).status_code == 404

    gone = alice.delete(f"/api/cameos/alice/videos/{draft['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert bob.get(f"/api/videos/{draft['id']}").status_code == 404
    assert alice.get("/api/cameos/alice/videos").json()["data"] == []
    assert (
        error(alice.delete(f"/api/cameos/alice/videos/{draft['id']}"), 404)["param"] == "video_id"
    )
    settings = [e["detail"] for e in alice.get("/api/cameos/alice/log").json()["entries"]]
    assert {"name": "access", "from": "only_me", "to": "everyone"} in settings


def test_the_owner_watches_and_reports_a_draft_and_a_moderator_takes_it_down(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="everyone")
    bob, carol = site.sign_up("bob"), site.sign_up("carol")
    moderator = site.sign_up("mod", role="moderator")
    draft = make(bob, "@alice dances on a table").json()["id"]
    complete(site, draft)
    mine = make(bob, "a red ball bounces").json()["id"]
    complete(site, mine)

    # The owner may watch the draft that casts them; nobody else may, the moderator
    # neither until it is reported.
    assert alice.get(f"/api/posts/{draft}/video").status_code == 200
    for other in (carol, moderator):
        assert error(other.get(f"/api/posts/{draft}/video"), 404)["param"] == "video_id"
    assert error(alice.get(f"/api/posts/{mine}/video"), 404)["param"] == "video_id"

    # Only the owner of a cameo it casts may report a video; others get a 404.
    body = {"target_type": "video", "target_id": draft, "reason": "likeness"}
    assert error(carol.post("/api/reports", json=body), 404)["param"] == "target_id"
    not_hers = {**body, "target_id": mine}
    assert error(alice.post("/api/reports", json=not_hers), 404)["param"] == "target_id"
    filed = alice.post("/api/reports", json={**body, "details": "I never agreed to this"})
    assert filed.status_code in (200, 201), filed.text
    report_id = filed.json()["id"]
    assert error(alice.post("/api/reports", json=body), 409)["code"] == "duplicate_report"
    assert log_events(alice, "alice")[-1] == "report"

    # The moderator sees whose it is and its prompt, and may watch it to judge.
    queue = moderator.get("/api/reports", params={"status": "open"}).json()["data"]
    assert [(r["id"], r["target_type"], r["target_summary"]) for r in queue] == [
        (report_id, "video", 'by @bob: "@alice dances on a table"')
    ]
    assert moderator.get(f"/api/posts/{draft}/video").status_code == 200
    assert error(carol.get(f"/api/posts/{draft}/video"), 404)["param"] == "video_id"

    upheld = moderator.post(
        f"/api/reports/{report_id}/resolve", json={"outcome": "upheld", "note": "no consent"}
    )
    assert upheld.status_code == 200, upheld.text
    assert upheld.json()["status"] == "upheld"
    assert upheld.json()["target_summary"] == "deleted"
    assert bob.get(f"/api/videos/{draft}").status_code == 404
    assert not site.state.storage.exists(media_key(draft, "video"))
    assert bob.get(f"/api/videos/{mine}").status_code == 200
    assert alice.get("/api/cameos/alice/videos").json()["data"] == []
    assert log_events(alice, "alice")[-2:] == ["report", "video_removed"]
    with site.state.factory() as db:
        told = {
            n.user_id: n.text
            for n in db.scalars(select(Notification).where(Notification.type == "report"))
        }
    assert told[alice.user_id] == "your report of a video was upheld: it was taken down"
    assert told[bob.user_id] == "your video was taken down after a report (likeness)"


def test_approve_before_posting(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="everyone", approve_before_posting=True)
    bob = site.sign_up("bob")
    draft = make(bob, "@alice plays chess").json()
    complete(site, draft["id"])
    assert "waits for your approval" in cameo_notes(site, alice.user_id)[0]
    refused = error(bob.post(f"/api/videos/{draft['id']}/post", json={}), 409)
    assert refused["code"] == "awaiting_cameo_approval"
    assert alice.get("/api/cameos/alice/videos").json()["data"][0]["status"] == "awaiting_approval"

    approved = alice.post(f"/api/cameos/alice/videos/{draft['id']}/approve")
    assert approved.json() == {"video_id": draft["id"], "status": "approved"}
    assert error(alice.post(f"/api/cameos/alice/videos/{draft['id']}/approve"), 409)
    assert "approved your video" in cameo_notes(site, bob.user_id)[0]
    posted = bob.post(f"/api/videos/{draft['id']}/post", json={"caption": "chess"})
    assert posted.status_code == 200, posted.text
    assert bob.get(f"/api/posts/{draft['id']}/download").status_code == 200
    assert alice.get("/api/cameos/alice/videos").json()["data"][0]["status"] == "posted"
    assert log_events(alice, "alice")[-4:] == ["draft", "approve", "post", "download"]


def test_revoking_a_grant_takes_down_the_draft_the_post_and_their_remixes(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="approved")
    bob, dave = site.sign_up("bob"), site.sign_up("dave")
    for who in ("bob", "dave"):
        alice.post(f"/api/cameos/alice/grants/{who}")
    post = make(bob, "@alice skates").json()["id"]
    complete(site, post)
    assert bob.post(f"/api/videos/{post}/post", json={}).status_code == 200
    draft = make(bob, "@alice surfs").json()["id"]
    remix = bob.post(f"/api/posts/{post}/remix", json={"prompt": "@alice skates at night"})
    assert remix.status_code == 200, remix.text
    others = dave.post(f"/api/posts/{post}/remix", json={"prompt": "it snows"})
    assert others.status_code == 200 and "@alice" in others.json()["prompt"]
    complete(site, others.json()["id"])
    assert dave.post(f"/api/videos/{others.json()['id']}/post", json={}).status_code == 200
    dave_own = make(dave, "@alice dives").json()["id"]

    revoked = alice.delete("/api/cameos/alice/grants/bob")
    assert revoked.status_code == 200, revoked.text
    removed = {r["video_id"] for r in revoked.json()["removed_videos"]}
    assert removed == {post, draft, remix.json()["id"], others.json()["id"]}
    with site.state.factory() as db:
        left = set(db.scalars(select(Video.id)))
    assert removed.isdisjoint(left) and dave_own in left
    assert not site.state.storage.exists(media_key(post, "video"))
    assert bob.get(f"/api/posts/{post}").status_code == 404
    assert "grant was revoked: removed 4 video(s)" in cameo_notes(site, alice.user_id)[-1]
    assert error(make(bob, "@alice skates"), 403)["code"] == "cameo_not_allowed"
    assert error(alice.delete("/api/cameos/alice/grants/bob"), 404)["param"] == "grantee"
    assert log_events(alice, "alice").count("video_removed") == 4


def test_deleting_the_cameo_removes_the_recording_features_and_videos_with_a_receipt(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    alice = verified(site, "alice", takes, access="everyone")
    bob = site.sign_up("bob")
    draft = make(bob, "@alice bakes bread").json()["id"]
    with site.state.factory() as db:
        take_key = db.scalar(select(Cameo.take_key).where(Cameo.handle == "alice"))
    assert take_key and site.state.storage.exists(take_key)

    receipt = alice.delete("/api/cameos/alice")
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    assert body["recording_deleted"] is True and body["features_deleted"] == ["likeness"]
    assert [v["video_id"] for v in body["videos_removed"]] == [draft]
    assert not site.state.storage.exists(take_key)
    with site.state.factory() as db:
        cameo = db.scalar(select(Cameo).where(Cameo.handle == "alice"))
        assert cameo is not None and cameo.likeness_json is None and cameo.take_key is None
        assert db.get(Video, draft) is None
    assert error(alice.get("/api/cameos/alice"), 404)["param"] == "handle"
    kept = alice.get("/api/cameos/alice/log").json()  # the log outlives the cameo
    assert kept["deleted"] and kept["intact"] and kept["entries"][-1]["event"] == "delete"
    assert error(bob.get("/api/cameos/alice/log"), 404)["param"] == "handle"
    assert error(make(bob, "@alice bakes bread"), 403)["code"] == "cameo_not_allowed"
    assert "deleted your cameo" in cameo_notes(site, alice.user_id)[-1]
    assert _audit(site, "alice") == (0, ["@alice (deleted): 6 consent log entries", "chain intact"])


# The consent log ---------------------------------------------------------------------


def _audit(site: AppUnderTest, handle: str) -> tuple[int, list[str]]:
    """`reelforge cameo audit HANDLE` against the site's database (SQLite or PostgreSQL)."""
    import contextlib
    import io
    import os

    out = io.StringIO()
    wanted = {
        "REELFORGE_DATA_DIR": str(site.settings.data_dir),
        "REELFORGE_DATABASE_URL": site.settings.database_url,
    }
    before = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["cameo", "audit", handle])
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return code, out.getvalue().splitlines()


def test_the_consent_log_exports_verifies_and_shows_tampering(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    from reelforge.cameos import consent_log

    alice = verified(site, "alice", takes, access="approved")
    bob = site.sign_up("bob")
    alice.post("/api/cameos/alice/grants/bob", json={"uses": 3})
    make(bob, "@alice reads a poem")
    alice.patch("/api/cameos/alice", json={"preferences": "no horror"})
    body = alice.get("/api/cameos/alice/log").json()
    assert body["intact"] and body["problems"] == []
    entries = body["entries"]
    assert [e["event"] for e in entries] == [
        "verify",
        "setting",
        "grant",
        "cast_allowed",
        "draft",
        "setting",
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    # Anyone can redo the chain from the export alone.
    for entry in entries:
        fields = {k: entry[k] for k in entry if k not in ("hash", "prev_hash")}
        assert (
            consent_log.hashlib.sha256(
                entry["prev_hash"].encode() + consent_log.canonical(fields)
            ).hexdigest()
            == entry["hash"]
        )
    assert _audit(site, "alice") == (0, ["@alice: 6 consent log entries", "chain intact"])

    with site.state.factory() as db:  # someone edits the grant's terms in the database
        db.execute(
            update(ConsentLogEntry)
            .where(ConsentLogEntry.seq == 3)
            .values(detail_json=json.dumps({"grantee": "bob", "uses": 300}))
        )
        db.commit()
    tampered = alice.get("/api/cameos/alice/log").json()
    assert not tampered["intact"]
    assert tampered["problems"][0].startswith("entry 3: contents changed")
    code, lines = _audit(site, "alice")
    assert code == 1 and lines[1].startswith("break: entry 3: contents changed")

    with site.state.factory() as db:  # and removes an entry
        db.execute(delete(ConsentLogEntry).where(ConsentLogEntry.seq == 5))
        db.commit()
    problems = alice.get("/api/cameos/alice/log").json()["problems"]
    assert any(p.startswith("entry 6: expected seq 5") for p in problems)
    assert _audit(site, "nobody_here")[0] == 2


def test_the_finished_clip_is_checked_again_against_the_owners_rules(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    """An owner who tightens their rules while a clip is queued: the worker checks its
    caption and speech against them and fails the job, logged at stage "clip". A clip
    within the rules (the appearance preset is not held against the caption's description
    of the person) completes."""
    from tests.app.test_posts import run_worker

    alice = verified(site, "alice", takes, access="everyone", no_appearance_changes=True)
    bob = site.sign_up("bob")
    political = make(bob, '@alice says "vote for me on election day"').json()["id"]
    fine = make(bob, "@alice waves from a red boat").json()["id"]
    alice.patch("/api/cameos/alice", json={"no_political": True})

    run_worker(site, political)
    failed = bob.get(f"/api/videos/{political}").json()
    assert failed["status"] == "failed" and "no political content" in failed["error"]
    with site.state.factory() as db:
        assert db.scalar(select(Video.error_code).where(Video.id == political)) == (
            "cameo_not_allowed"
        )
    run_worker(site, fine)
    assert bob.get(f"/api/videos/{fine}").json()["status"] == "completed"

    blocked = [
        e
        for e in alice.get("/api/cameos/alice/log").json()["entries"]
        if e["event"] == "cast_blocked"
    ]
    assert [(e["video_id"], e["detail"]["stage"], e["detail"]["rule"]) for e in blocked] == [
        (political, "clip", "no_political")
    ]
    listed = {v["video_id"] for v in alice.get("/api/cameos/alice/videos").json()["data"]}
    assert listed == {fine}


def test_the_real_checks_through_the_route(site: AppUnderTest, tmp_path: Path) -> None:
    """cameos/liveness.py itself (no stand-in) on two fixture takes made from a packaged
    photograph: a replay with the wrong digits fails on "digits", the right take
    passes and gives the cameo its likeness."""
    from tests.cameos.fixtures import make_take

    alice = site.sign_up("alice")
    for kind, passes in (("wrong_digits", False), ("positive", True)):
        take = make_take(kind, 1, tmp_path)
        made = alice.post("/api/cameos/challenge").json()
        with site.state.factory() as db:  # the server's challenge is the one the take answers
            db.execute(
                update(CameoChallenge)
                .where(CameoChallenge.id == made["id"])
                .values(digits=take.challenge.digits, turns=",".join(take.challenge.turns))
            )
            db.commit()
        result = submit(alice, take.path, made["id"])
        assert result.status_code == 200, result.text
        checks = {c["name"]: c["passed"] for c in result.json()["checks"]}
        assert result.json()["passed"] is passes, result.json()["checks"]
        assert checks["digits"] is passes and checks["same_face"] and checks["face_quality"]
    with site.state.factory() as db:
        cameo = db.scalar(select(Cameo).where(Cameo.handle == "alice"))
        assert cameo is not None and cameo.verified_at is not None and cameo.likeness_json
        assert Likeness.from_dict(json.loads(cameo.likeness_json)).voice_pitch_hz > 0
    entries = alice.get("/api/cameos/alice/log").json()["entries"]
    assert [e["detail"]["passed"] for e in entries] == [False, True]
