"""Webhooks survive a kill mid-delivery (issue 21: "webhooks delivered after a worker and
a server were killed mid-delivery"), on SQLite and on PostgreSQL + Redis.

A real `reelforge serve --no-worker` and real `reelforge worker` processes run a job; its
`video.completed` event goes to a receiver on 127.0.0.1 that holds the first request
open (no answer). While it is held, the sending process is SIGKILLed; a new process of
the same kind is started, and once the dead sender's claim expires (6 ×
webhook_timeout_s) it sends the event again: the same `webhook-id`, the same body,
signed, and the row is marked delivered.

Both kinds of process run an outbox sender. So that the one killed is surely the one
sending, the other kind is started with a poll interval of an hour: its sender polls
once at start (the outbox is empty then) and not again during the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.app.test_notifications import Server, start_server
from tests.app.test_webhook_outbox import Receiver
from tests.servers import backend_settings

from reelforge import webhooks
from reelforge.db.models import Video, WebhookDelivery
from reelforge.db.session import make_engine, session_factory
from reelforge.settings import Settings

TIMEOUT_S = 1.0  # one attempt; a claim holds 6 s
IDLE = {"REELFORGE_WEBHOOK_POLL_INTERVAL_S": "3600"}
WITHIN_S = 120.0  # a bound on a hang, not a measurement


@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings of each backend: the embedded default, or a scratch PostgreSQL
    database with the queue and rate limits in Redis."""
    with backend_settings(request.param) as settings:
        yield settings


class Site:
    """The processes of one deployment, the receiver of its webhooks, and its database."""

    def __init__(self, root: Path, backend: dict[str, str]) -> None:
        self.data_dir = root / "data"
        self.receiver = Receiver()
        self.receiver.hold = True
        self.secret = webhooks.new_secret()
        self.env = {
            "REELFORGE_DATA_DIR": str(self.data_dir),
            "REELFORGE_QUEUE_NAME": f"kill-delivery-{uuid.uuid4().hex[:8]}",
            "REELFORGE_WEBHOOK_URL": self.receiver.url,
            "REELFORGE_WEBHOOK_SECRET": self.secret,
            "REELFORGE_WEBHOOK_ALLOW_PRIVATE": "1",
            "REELFORGE_WEBHOOK_TIMEOUT_S": str(TIMEOUT_S),
            "REELFORGE_WEBHOOK_BACKOFF_SCALE": "0.01",
            "REELFORGE_WEBHOOK_POLL_INTERVAL_S": "0.2",
            **backend,
        }
        self.servers: list[Server] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        settings = Settings(
            data_dir=self.data_dir, database_url=backend.get("REELFORGE_DATABASE_URL")
        )
        self.engine = make_engine(settings)
        self.factory = session_factory(self.engine)

    def server(self, **env: str) -> Server:
        self.servers.append(start_server(self.data_dir, **(self.env | env)))
        return self.servers[-1]

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "reelforge.cli", "worker"],
            env={**os.environ, **self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def submit(self, server: Server) -> str:
        key = subprocess.run(
            [sys.executable, "-m", "reelforge.cli", "keys", "create", "--user", "ada"],
            env={**os.environ, **self.env},
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()
        response = httpx.post(
            f"{server.url}/v1/videos",
            json={"prompt": "a red ball bounces", "seconds": "4"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def held_event(self) -> dict[str, object]:
        """The event of the first request the receiver holds open."""
        assert self.receiver.arrived.wait(WITHIN_S), "no webhook was sent"
        headers, body = self.receiver.got[0]
        event: dict[str, object] = json.loads(body)
        assert event["id"] == headers["webhook-id"]
        return event

    def row(self, event_id: str) -> WebhookDelivery:
        with self.factory() as db:
            row = db.get(WebhookDelivery, event_id)
            assert row is not None
            db.expunge(row)
            return row

    def let_through(self) -> None:
        """From now on the receiver answers 200 at once."""
        self.receiver.hold = False
        self.receiver.release.set()

    def delivered(self, event_id: str) -> WebhookDelivery:
        deadline = time.monotonic() + WITHIN_S
        while (row := self.row(event_id)).delivered_at is None:
            assert time.monotonic() < deadline, f"{event_id} was not delivered again"
            time.sleep(0.1)
        return row

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.kill()
                process.wait()
        for server in self.servers:
            if server.process.poll() is None:
                server.stop()
        self.receiver.close()
        self.engine.dispose()


@pytest.fixture
def site(tmp_path: Path, backend: dict[str, str]) -> Iterator[Site]:
    made = Site(tmp_path, backend)
    yield made
    made.close()


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _assert_sent_again(site: Site, event: dict[str, object], video_id: str) -> None:
    """Every request the receiver got carried this one event, signed; the last one was
    answered 200 and the row says so; the job itself ran once."""
    row = site.delivered(str(event["id"]))
    got = site.receiver.got
    assert len(got) >= 2  # the held one, and the one after the restart
    for headers, body in got:
        assert headers["webhook-id"] == event["id"]
        assert json.loads(body) == event
        assert webhooks.verify(site.secret, headers, body)
    assert event["type"] == "video.completed" and event["data"] == {"id": video_id}
    assert row.last_status == 200 and row.failed_at is None
    with site.factory() as db:
        video = db.get(Video, video_id)
        assert video is not None and (video.status, video.attempts) == ("completed", 1)


def _assert_held_mid_delivery(site: Site, event_id: str) -> None:
    """The receiver holds the request and the row is not delivered. (Its claim is still
    on the row, unless the test was so slow to kill that the attempt timed out first and
    was recorded as a failure: then a held retry was in flight instead.)"""
    row = site.row(event_id)
    assert row.delivered_at is None and row.failed_at is None
    assert row.claimed_until is not None or row.attempts >= 1


def test_a_worker_killed_mid_delivery_is_restarted_and_sends_the_same_event(
    site: Site,
) -> None:
    server = site.server(**IDLE)
    first = site.worker()
    video_id = site.submit(server)
    event = site.held_event()
    _kill(first)
    _assert_held_mid_delivery(site, str(event["id"]))
    site.let_through()
    site.worker()  # the restart
    _assert_sent_again(site, event, video_id)


def test_a_server_killed_mid_delivery_is_restarted_and_sends_the_same_event(
    site: Site,
) -> None:
    first = site.server()
    site.worker(**IDLE)
    video_id = site.submit(first)
    event = site.held_event()
    _kill(first.process)
    _assert_held_mid_delivery(site, str(event["id"]))
    site.let_through()
    site.server()  # the restart
    _assert_sent_again(site, event, video_id)
