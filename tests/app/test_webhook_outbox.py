"""Durable webhooks (outbox.py), against a real receiver on 127.0.0.1: an event written
with its transaction is delivered; a receiver that is down gets it later with the same
`webhook-id`; a sender SIGKILLed while the receiver holds the request is followed by
another that sends the event again; a rollback sends nothing; an event past its deadline
is marked failed and `reelforge webhooks list --failed` shows it. The SSRF guard refuses
every non-public address when REELFORGE_WEBHOOK_ALLOW_PRIVATE is off. Delivered events
are pruned after webhook_keep_delivered_s, in bounded batches, by the sender thread;
failed ones are kept (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, text
from tests.app.conftest import AppUnderTest
from tests.servers import scratch_database

from reelforge import outbox, webhooks
from reelforge.db.models import WebhookDelivery
from reelforge.settings import Settings

WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records what it is sent; `hold` makes it keep
    each request open (no answer) until `release` is set."""

    def __init__(self, port: int | None = None) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.hold = False
        self.release = threading.Event()
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.got.append((dict(self.headers), body))
                outer.arrived.set()
                if outer.hold:
                    outer.release.wait(WAIT_S)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.got]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": "video.completed", "data": {"id": "v"}}


def row_of(site: AppUnderTest, event_id: str) -> WebhookDelivery:
    with site.state.factory() as db:
        row = db.get(WebhookDelivery, event_id)
        assert row is not None
        db.expunge(row)
        return row


def poll(site: AppUnderTest, **kw: Any) -> int:
    return outbox.send_due(site.state.factory, site.settings, random.Random(0), **kw)


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_event_written_with_its_transaction_is_delivered_signed_by_the_sender_thread(
    site: AppUnderTest, receiver: Receiver
) -> None:
    secret = webhooks.new_secret()
    with site.state.factory() as db, db.begin():
        outbox.enqueue(db, receiver.url, secret, event("evt_one"))
    stop = threading.Event()
    outbox.start_sender(site.state.factory, site.settings, stop)
    try:
        wait_until(lambda: row_of(site, "evt_one").delivered_at is not None)
    finally:
        stop.set()
    headers, body = receiver.got[0]
    assert receiver.ids() == ["evt_one"]
    assert webhooks.verify(secret, headers, body)
    assert json.loads(body) == event("evt_one")
    assert (row_of(site, "evt_one").attempts, row_of(site, "evt_one").last_status) == (1, 200)


def test_a_rollback_writes_no_event(site: AppUnderTest, receiver: Receiver) -> None:
    with site.state.factory() as db:
        db.begin()
        outbox.enqueue(db, receiver.url, webhooks.new_secret(), event("evt_rolled_back"))
        db.flush()
        db.rollback()
    with site.state.factory() as db:
        assert db.scalars(select(WebhookDelivery)).all() == []
    assert poll(site) == 0 and receiver.got == []


def test_a_receiver_down_then_up_gets_the_event_later_with_the_same_id(
    site: AppUnderTest,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    with site.state.factory() as db, db.begin():
        outbox.enqueue(db, url, webhooks.new_secret(), event("evt_later"))
    assert poll(site) == 0  # nobody listens
    down = row_of(site, "evt_later")
    assert down.attempts == 1 and down.delivered_at is None and down.failed_at is None
    assert down.last_error is not None and "Connect" in down.last_error
    assert down.next_attempt_at > time.time()  # backed off: not due at once

    up = Receiver(port)
    try:
        assert poll(site, now=down.next_attempt_at + 0.001) == 1
        assert up.ids() == ["evt_later"]
        assert row_of(site, "evt_later").attempts == 2
    finally:
        up.close()


SENDER = """
import random, sys
from reelforge import outbox
from reelforge.db.session import make_engine, session_factory
from reelforge.settings import load_settings
settings = load_settings()
outbox.send_due(session_factory(make_engine(settings)), settings, random.Random())
"""


def test_a_sender_killed_mid_delivery_is_followed_by_one_that_sends_the_same_event(
    site: AppUnderTest, receiver: Receiver
) -> None:
    with site.state.factory() as db, db.begin():
        outbox.enqueue(db, receiver.url, webhooks.new_secret(), event("evt_killed"))
    receiver.hold = True
    env = {
        **os.environ,
        "REELFORGE_DATA_DIR": str(site.settings.data_dir),
        "REELFORGE_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    sender = subprocess.Popen([sys.executable, "-c", SENDER], env=env)
    try:
        assert receiver.arrived.wait(WAIT_S), "the sender never sent"
        sender.send_signal(signal.SIGKILL)
        sender.wait(WAIT_S)
    finally:
        if sender.poll() is None:
            sender.kill()
    receiver.hold = False
    receiver.release.set()
    claimed = row_of(site, "evt_killed")
    assert claimed.delivered_at is None and claimed.claimed_until is not None

    assert poll(site) == 0  # its claim still holds: no second sender at once
    assert poll(site, now=claimed.claimed_until + 0.001) == 1  # a restart after it expires
    assert receiver.ids() == ["evt_killed", "evt_killed"]  # at least once, one id
    assert row_of(site, "evt_killed").delivered_at is not None


def test_past_its_deadline_an_event_is_failed_and_the_cli_lists_and_retries_it(
    make_app: Callable[..., AppUnderTest],
) -> None:
    site = make_app(webhook_give_up_after_s=0.001)
    secret = webhooks.new_secret()
    url = f"http://127.0.0.1:{free_port()}/hooks?token=receivers-own"
    with site.state.factory() as db, db.begin():
        outbox.enqueue(db, url, secret, event("evt_given_up"))
    assert poll(site) == 0
    failed = row_of(site, "evt_given_up")
    assert failed.failed_at is not None and failed.attempts == 1
    assert poll(site, now=time.time() + 10**6) == 0  # never tried again

    env = {**os.environ, "REELFORGE_DATA_DIR": str(site.settings.data_dir)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "reelforge.cli", "webhooks", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    listed = cli("list", "--failed", "--json")
    assert listed.returncode == 0, listed.stderr
    (shown,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (shown["id"], shown["state"], shown["attempts"]) == ("evt_given_up", "failed", 1)
    assert "Connect" in shown["last_error"]
    assert secret not in listed.stdout and "receivers-own" not in listed.stdout
    assert "evt_given_up\tvideo.completed\tfailed\t1" in cli("list").stdout

    assert cli("retry", "evt_given_up").returncode == 0
    assert cli("list", "--failed").stdout.count("\n") == 1  # the header only
    assert json.loads(cli("list", "--json").stdout)["state"] == "pending"
    missing = cli("retry", "evt_nobody")
    assert missing.returncode != 0 and "event_id" in missing.stderr


# The SSRF guard ----------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost:8080/hook",
    "http://0.0.0.0/hook",
    "http://192.168.1.1/hook",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_the_guard_refuses_non_public_addresses_unless_allowed(url: str) -> None:
    with pytest.raises(outbox.AddressRefused, match="not a public address"):
        outbox.check_address(url, allow_private=False)
    outbox.check_address(url, allow_private=True)


def test_the_guard_lets_a_public_address_through() -> None:
    outbox.check_address("http://93.184.215.14/hook", allow_private=False)
    outbox.check_address("https://[2606:4700:4700::1111]/hook", allow_private=False)


def test_a_refused_address_is_a_recorded_failure_and_never_sent_to(
    make_app: Callable[..., AppUnderTest], receiver: Receiver
) -> None:
    site = make_app(webhook_allow_private=False)
    with site.state.factory() as db, db.begin():
        outbox.enqueue(db, receiver.url, webhooks.new_secret(), event("evt_refused"))
    assert poll(site) == 0
    refused = row_of(site, "evt_refused")
    assert refused.attempts == 1 and refused.last_error is not None
    assert refused.last_error.startswith("address refused: the host '127.0.0.1' resolves")
    assert receiver.got == []


def test_settings_default_to_refusing_and_to_the_real_schedule() -> None:
    defaults = Settings()
    assert defaults.webhook_allow_private is False
    rng = random.Random(0)
    delays = [outbox.next_delay_s(n, defaults, rng) for n in range(1, 8)]
    for delay, base in zip(delays, outbox.SCHEDULE_S, strict=True):
        assert base <= delay <= base * 1.1
    assert defaults.webhook_give_up_after_s == 24 * 3600


# Pruning ------------------------------------------------------------------------------

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def any_site(
    make_app: Callable[..., AppUnderTest], request: pytest.FixtureRequest
) -> Iterator[AppUnderTest]:
    """An app that keeps delivered events 1,000 s, on SQLite or on a scratch PostgreSQL
    database (skipped without REELFORGE_TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        yield make_app(webhook_keep_delivered_s=1000.0)
        return
    if not PG_URL:
        pytest.skip("REELFORGE_TEST_DATABASE_URL is not set")
    with scratch_database(PG_URL) as url:
        made = make_app(webhook_keep_delivered_s=1000.0, database_url=url)
        yield made
        made.state.factory.kw["bind"].dispose()


def _store(site: AppUnderTest, event_id: str, **state: float) -> None:
    """An outbox row as the sender leaves it: delivered_at / failed_at / created_at."""
    with site.state.factory() as db, db.begin():
        row = outbox.enqueue(db, "http://127.0.0.1:9/hooks", "whsec_x", event(event_id))
        for name, value in state.items():
            setattr(row, name, value)


def _ids(site: AppUnderTest) -> set[str]:
    with site.state.factory() as db:
        return set(db.scalars(select(WebhookDelivery.id)))


def test_delivered_events_past_their_keep_are_pruned_in_batches_failed_ones_kept(
    any_site: AppUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    old, recent = now - 2000, now - 10
    for n in range(7):
        _store(any_site, f"evt_old_{n}", delivered_at=old, created_at=old)
    _store(any_site, "evt_recent", delivered_at=recent, created_at=recent)
    _store(any_site, "evt_failed_long_ago", failed_at=old, created_at=old - 86400)
    _store(any_site, "evt_pending_long_ago", created_at=old, next_attempt_at=now + 3600)
    kept = {"evt_recent", "evt_failed_long_ago", "evt_pending_long_ago"}

    monkeypatch.setattr(outbox, "PRUNE_BATCH", 2)
    monkeypatch.setattr(outbox, "PRUNE_MAX_BATCHES", 3)
    assert outbox.prune(any_site.state.factory, any_site.settings, now=now) == 6  # 3 × 2
    assert len(_ids(any_site) - kept) == 1  # the rest waits for the next call
    assert outbox.prune(any_site.state.factory, any_site.settings, now=now) == 1
    assert _ids(any_site) == kept
    assert outbox.prune(any_site.state.factory, any_site.settings, now=now) == 0
    # A day later the recent one is old too; the failed and pending ones stay for ever.
    later = now + 86400
    assert outbox.prune(any_site.state.factory, any_site.settings, now=later) == 1
    assert _ids(any_site) == {"evt_failed_long_ago", "evt_pending_long_ago"}


def test_the_sender_thread_prunes_on_its_own(site: AppUnderTest) -> None:
    old = time.time() - site.settings.webhook_keep_delivered_s - 60
    _store(site, "evt_old", delivered_at=old, created_at=old)
    _store(site, "evt_failed", failed_at=old, created_at=old)
    stop = threading.Event()
    outbox.start_sender(site.state.factory, site.settings, stop)
    try:
        wait_until(lambda: _ids(site) == {"evt_failed"})
    finally:
        stop.set()


def test_pruning_reads_a_range_of_the_delivered_index_not_the_whole_table(
    make_app: Callable[..., AppUnderTest],
) -> None:
    site = make_app()  # its schema made by the migrations, 0015 included
    with site.state.factory() as db:
        query = outbox.prunable(1000.0).compile(
            db.get_bind(), compile_kwargs={"literal_binds": True}
        )
        plan = " ".join(str(row[-1]) for row in db.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    assert "INDEX ix_webhook_outbox_delivered_at (delivered_at>? AND delivered_at<?)" in plan, plan
