"""A cameo's owner is told of every use by someone else by webhook (social/cameo_webhooks.py):
the address and its secret (shown once), the events of a draft, a refused cast, an
approval, a post, a take-down and a clip refused after generation, each signed and sent
after its transaction commits, and the test event.

The receiver is a real HTTP server on 127.0.0.1; every request it got is checked with
webhooks.verify, as an owner's receiver would.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.app import test_cameos
from tests.app.conftest import AppUnderTest, Browser
from tests.app.test_cameos import FakeLiveness, complete, error, make, verified
from tests.servers import free_port

from reelforge import outbox, webhooks
from reelforge.db.session import session_factory
from reelforge.deployment import Deployment
from reelforge.jobs.worker import Worker

# test_cameos's fixtures: the stand-in liveness check, and real MP4 takes.
liveness, takes = test_cameos.liveness, test_cameos.takes

WAIT_S = 15.0  # deliver's backoff is 0.5 s, 1 s, ...: a retried event arrives within this


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event

    def signed_by(self, secret: str) -> bool:
        return webhooks.verify(secret, self.headers, self.body)


@dataclass
class Receiver:
    """Collects every POST; answers each with the next of `answers` (then 200)."""

    url: str
    got: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int) -> list[Received]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= count:
                    return list(self.got)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook requests, got {len(self.got)}")

    def quiet_then(self, count: int, settle_s: float = 0.5) -> list[Received]:
        """Exactly `count` requests, none more arriving for `settle_s`."""
        self.wait_for(count)
        time.sleep(settle_s)
        with self.lock:
            assert len(self.got) == count, [r.event["type"] for r in self.got]
            return list(self.got)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    made = Receiver(url=f"http://127.0.0.1:{port}/hooks/cameo")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with made.lock:
                made.got.append(Received(dict(self.headers.items()), body))
                status = made.answers.pop(0) if made.answers else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def set_webhook(owner: Browser, handle: str, url: str | None) -> dict[str, Any]:
    response = owner.patch(f"/api/cameos/{handle}", json={"webhook_url": url})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def log_entries(owner: Browser, handle: str) -> list[dict[str, Any]]:
    body = owner.get(f"/api/cameos/{handle}/log").json()
    assert body["intact"], body["problems"]
    entries: list[dict[str, Any]] = body["entries"]
    return entries


# The address and its secret ----------------------------------------------------------


def test_a_new_address_shows_its_secret_once_and_the_log_never_has_it(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes)
    url = receiver.url + "?token=receivers-own"
    made = set_webhook(alice, "alice", url)
    secret = made["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert (made["webhook_url"], made["webhook_secret_set"]) == (url, True)

    shown = alice.get("/api/cameos/alice").json()
    assert "webhook_secret" not in shown
    assert (shown["webhook_url"], shown["webhook_secret_set"]) == (url, True)
    # The same address again, or other settings: no new secret, none shown.
    assert "webhook_secret" not in set_webhook(alice, "alice", url)
    other = alice.patch("/api/cameos/alice", json={"access": "everyone"}).json()
    assert "webhook_secret" not in other and other["webhook_secret_set"] is True

    # A new address is a new secret; "" and null both remove it.
    moved = set_webhook(alice, "alice", receiver.url + "/other")
    assert moved["webhook_secret"] not in (None, secret)
    assert set_webhook(alice, "alice", "")["webhook_secret_set"] is False
    set_webhook(alice, "alice", receiver.url)
    cleared = set_webhook(alice, "alice", None)
    assert (cleared["webhook_url"], cleared["webhook_secret_set"]) == (None, False)

    log_text = alice.get("/api/cameos/alice/log").text
    assert "whsec_" not in log_text and "receivers-own" not in log_text
    changes = [
        (e["detail"]["from"], e["detail"]["to"])
        for e in log_entries(alice, "alice")
        if e["event"] == "setting" and e["detail"]["name"] == "webhook_url"
    ]
    assert changes == [
        (None, receiver.url),  # the query string left out
        (receiver.url, receiver.url + "/other"),
        (receiver.url + "/other", None),
        (None, receiver.url),
        (receiver.url, None),
    ]


def test_a_bad_address_is_a_400_naming_webhook_url_and_changes_nothing(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes)
    set_webhook(alice, "alice", receiver.url)
    before = log_entries(alice, "alice")
    for bad, why in (
        ("ftp://example.com/hook", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://", "no host"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https://token@example.com/hook", "user name or password"),
        ("https://example.com:99999/hook", "not a URL"),
        ("https://exa mple.com/hook", "no spaces"),
        ("https://example.com/" + "a" * 2000, "at most 2000 characters"),
        (5, "string"),
        (["https://example.com"], "string"),
    ):
        response = alice.patch("/api/cameos/alice", json={"webhook_url": bad})
        problem = error(response, 400)
        assert problem["param"] == "webhook_url", (bad, problem)
        assert why in problem["message"], (bad, problem)
    # Another field in the same request is not applied either.
    mixed = alice.patch(
        "/api/cameos/alice", json={"access": "everyone", "webhook_url": "ftp://x.example"}
    )
    assert error(mixed, 400)["param"] == "webhook_url"
    shown = alice.get("/api/cameos/alice").json()
    assert (shown["access"], shown["webhook_url"]) == ("only_me", receiver.url)
    assert log_entries(alice, "alice") == before


def test_a_non_public_address_is_a_400_when_private_addresses_are_not_allowed(
    make_app: Callable[..., AppUnderTest], liveness: FakeLiveness, takes: dict[str, Path]
) -> None:
    """The SSRF guard at the moment the address is set (outbox.check_address)."""
    site = make_app(webhook_allow_private=False)
    alice = verified(site, "alice", takes)
    for bad in (
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
    ):
        problem = error(alice.patch("/api/cameos/alice", json={"webhook_url": bad}), 400)
        assert problem["param"] == "webhook_url", (bad, problem)
        assert "not a public address" in problem["message"], (bad, problem)
    assert alice.get("/api/cameos/alice").json()["webhook_url"] is None


# The events --------------------------------------------------------------------------


def test_a_grantees_draft_and_a_refused_cast_are_signed_events_the_owners_own_is_not(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes, access="approved")
    bob, carol = site.sign_up("bob"), site.sign_up("carol")
    assert alice.post("/api/cameos/alice/grants/bob").status_code == 200
    secret = set_webhook(alice, "alice", receiver.url)["webhook_secret"]

    draft = make(bob, "@alice juggles three oranges")
    assert draft.status_code == 200, draft.text
    first = receiver.wait_for(1)[0]
    assert first.signed_by(secret)
    assert first.headers["webhook-id"] == first.event["id"]
    assert first.event["id"].startswith("evt_") and first.event["object"] == "event"
    entries = log_entries(alice, "alice")
    drafted = next(e for e in entries if e["event"] == "draft")
    assert first.event["type"] == "cameo.used"
    assert first.event["data"] == {
        "cameo": "alice",
        "video_id": draft.json()["id"],
        "by": "bob",
        "prompt": "@alice juggles three oranges",
        "status": "drafted",
        "log_event": "draft",
        "log_seq": drafted["seq"],
    }
    assert first.event["created_at"] == drafted["at"]

    # The owner's own cast: no event. Then carol, without a grant: refused, and told.
    assert make(alice, "@alice waves at the camera").status_code == 200
    assert error(make(carol, "@alice dances"), 403)["param"] == "cameos"
    got = receiver.quiet_then(2)
    blocked = got[1]
    assert blocked.signed_by(secret)
    refusal = [e for e in log_entries(alice, "alice") if e["event"] == "cast_blocked"][-1]
    assert blocked.event["type"] == "cameo.blocked"
    assert blocked.event["data"] | {"reason": ""} == {
        "cameo": "alice",
        "video_id": None,
        "by": "carol",
        "prompt": "@alice dances",
        "reason": "",
        "stage": "request",
        "log_event": "cast_blocked",
        "log_seq": refusal["seq"],
    }
    assert blocked.event["data"]["reason"].startswith("no_grant:")


def test_approval_post_and_take_down_are_told_in_order(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes, access="everyone", approve_before_posting=True)
    bob = site.sign_up("bob")
    secret = set_webhook(alice, "alice", receiver.url)["webhook_secret"]
    draft = make(bob, "@alice plays chess").json()["id"]
    complete(site, draft)
    receiver.wait_for(1)
    assert alice.post(f"/api/cameos/alice/videos/{draft}/approve").status_code == 200
    receiver.wait_for(2)
    assert bob.post(f"/api/videos/{draft}/post", json={"caption": "chess"}).status_code == 200
    receiver.wait_for(3)
    assert alice.delete(f"/api/cameos/alice/videos/{draft}").status_code == 200
    got = receiver.quiet_then(4)

    assert all(r.signed_by(secret) for r in got)
    assert [
        (r.event["type"], r.event["data"].get("status") or r.event["data"].get("reason"))
        for r in got
    ] == [
        ("cameo.used", "awaiting_approval"),
        ("cameo.used", "approved"),
        ("cameo.posted", "posted"),
        ("cameo.removed", "you deleted a video with @alice"),
    ]
    assert {(r.event["data"]["video_id"], r.event["data"]["by"]) for r in got} == {(draft, "bob")}
    seqs = {e["event"]: e["seq"] for e in log_entries(alice, "alice")}
    assert [r.event["data"]["log_seq"] for r in got] == [
        seqs["draft"],
        seqs["approve"],
        seqs["post"],
        seqs["video_removed"],
    ]


def test_a_clip_refused_after_generation_is_told_by_a_worker_with_its_own_sessions(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    """The CLI's worker makes its own session factory; its `recheck` refusal goes out too."""
    alice = verified(site, "alice", takes, access="everyone")
    bob = site.sign_up("bob")
    secret = set_webhook(alice, "alice", receiver.url)["webhook_secret"]
    political = make(bob, '@alice says "vote for me on election day"').json()["id"]
    receiver.wait_for(1)  # the draft
    alice.patch("/api/cameos/alice", json={"no_political": True})

    own_factory = session_factory(site.state.factory.kw["bind"])
    worker = Worker(
        Deployment(site.settings, factory=own_factory, storage=site.state.storage),
        site.state.queue,
    )
    assert worker.claim(political)
    worker.process(political)
    assert bob.get(f"/api/videos/{political}").json()["status"] == "failed"

    refused = receiver.quiet_then(2)[1]
    assert refused.signed_by(secret)
    assert refused.event["type"] == "cameo.blocked"
    data = refused.event["data"]
    assert (data["video_id"], data["by"], data["stage"]) == (political, "bob", "clip")
    assert data["reason"].startswith("no_political:")
    clip_refusal = [e for e in log_entries(alice, "alice") if e["event"] == "cast_blocked"][-1]
    assert data["log_seq"] == clip_refusal["seq"]


def test_a_failing_receiver_is_retried_and_the_log_keeps_secret_and_query_out(
    site: AppUnderTest,
    liveness: FakeLiveness,
    takes: dict[str, Path],
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = verified(site, "alice", takes, access="everyone")
    bob = site.sign_up("bob")
    secret = set_webhook(alice, "alice", receiver.url + "?token=receivers-own")["webhook_secret"]

    receiver.answers = [503]
    started = time.monotonic()
    assert make(bob, "@alice rides a bicycle").status_code == 200
    assert time.monotonic() - started < 5  # the request never waits for the receiver
    tries = receiver.quiet_then(2)
    assert tries[0].headers["webhook-id"] == tries[1].headers["webhook-id"]
    assert all(t.signed_by(secret) for t in tries)

    receiver.answers = [400]  # any non-2xx is retried (Standard Webhooks); logged
    with caplog.at_level(logging.WARNING):
        assert make(bob, "@alice rides a horse").status_code == 200
        refused, accepted = receiver.quiet_then(4)[2:]
        assert refused.headers["webhook-id"] == accepted.headers["webhook-id"]
        deadline = time.monotonic() + WAIT_S
        while "not delivered" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "cameo.used" in caplog.text and "not delivered" in caplog.text
    assert "127.0.0.1" in caplog.text
    assert secret not in caplog.text and "receivers-own" not in caplog.text


# The owner's buttons -----------------------------------------------------------------


def test_the_test_event_says_what_the_receiver_answered(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes)
    bob = site.sign_up("bob")
    none_yet = error(alice.post("/api/cameos/alice/webhook/test"), 409)
    assert (none_yet["param"], none_yet["code"]) == ("webhook_url", "no_webhook")
    secret = set_webhook(alice, "alice", receiver.url)["webhook_secret"]

    sent = alice.post("/api/cameos/alice/webhook/test").json()
    assert (sent["delivered"], sent["status"]) == (True, 200)
    got = receiver.wait_for(1)[0]
    assert got.signed_by(secret)
    assert got.event["type"] == "cameo.test" and got.event["data"] == {"cameo": "alice"}
    assert got.event["id"] == sent["event_id"]

    receiver.answers = [500]  # once, no retries: the owner is waiting
    failed = alice.post("/api/cameos/alice/webhook/test").json()
    assert (failed["delivered"], failed["status"]) == (False, 500)
    assert "HTTP 500" in failed["detail"]
    receiver.quiet_then(2)

    set_webhook(alice, "alice", f"http://127.0.0.1:{free_port()}/nobody-listens")
    unreachable = alice.post("/api/cameos/alice/webhook/test").json()
    assert (unreachable["delivered"], unreachable["status"]) == (False, None)
    assert "could not connect" in unreachable["detail"]
    # Someone else's cameo: as if it did not exist.
    assert error(bob.post("/api/cameos/alice/webhook/test"), 404)["param"] == "handle"


def test_a_new_secret_signs_from_then_on(
    site: AppUnderTest, liveness: FakeLiveness, takes: dict[str, Path], receiver: Receiver
) -> None:
    alice = verified(site, "alice", takes, access="everyone")
    bob = site.sign_up("bob")
    none_yet = error(alice.post("/api/cameos/alice/webhook/rotate"), 409)
    assert none_yet["param"] == "webhook_url"
    old = set_webhook(alice, "alice", receiver.url)["webhook_secret"]

    rotated = alice.post("/api/cameos/alice/webhook/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new.startswith("whsec_") and new != old
    assert "webhook_secret" not in alice.get("/api/cameos/alice").json()
    assert error(bob.post("/api/cameos/alice/webhook/rotate"), 404)["param"] == "handle"

    assert make(bob, "@alice reads a book").status_code == 200
    got = receiver.wait_for(1)[0]
    assert got.signed_by(new) and not got.signed_by(old)
    log_text = alice.get("/api/cameos/alice/log").text
    assert old not in log_text and new not in log_text
    assert any(
        e["event"] == "setting" and e["detail"]["name"] == "webhook_secret"
        for e in log_entries(alice, "alice")
    )


def test_a_rollback_sends_nothing(site: AppUnderTest, receiver: Receiver) -> None:
    """Events are outbox rows in the transaction of what they announce: a rolled back
    transaction writes none, so only the committed event is sent."""
    secret = webhooks.new_secret()
    with site.state.factory() as db:
        event = {"id": "evt_rolled_back", "type": "cameo.used", "data": {"cameo": "x"}}
        outbox.enqueue(db, receiver.url, secret, event)
        db.flush()
        db.rollback()
        outbox.enqueue(db, receiver.url, secret, event | {"id": "evt_committed"})
        db.commit()
    # One poll of the outbox sender (no client has started this app's own).
    assert outbox.send_due(site.state.factory, site.settings, random.Random(0)) == 1
    assert [r.event["id"] for r in receiver.quiet_then(1)] == ["evt_committed"]
