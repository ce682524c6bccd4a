"""Notifications: stored by the actions that cause them, listed and marked read through the
API, switched off per type, and delivered live over Server-Sent Events by a real
`reelforge serve` (docs/APP.md "Live notifications")."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.app.conftest import PASSWORD, AppUnderTest
from tests.servers import free_port

from reelforge.db.models import Notification, User
from reelforge.service.live import POLL_S, Live
from reelforge.social.notify import notify

# Well under the streams' POLL_S: delivery this fast proves a wake-up, not a poll.
LIVE_S = 3.0
assert LIVE_S < POLL_S


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def notes_of(site: AppUnderTest, user_id: str) -> list[Notification]:
    with site.state.factory() as db:
        query = select(Notification).where(Notification.user_id == user_id)
        return list(db.scalars(query.order_by(Notification.id)))


# Stored and listed ------------------------------------------------------------------


def test_a_follow_notifies_with_a_readable_sentence(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    alice.post("/api/users/bob/follow")
    page = bob.get("/api/notifications").json()
    assert page["unread"] == 1 and page["next_cursor"] is None
    [note] = page["data"]
    assert note["type"] == "follow" and note["text"] == "@alice followed you"
    assert note["actor"]["handle"] == "alice" and note["actor"]["id"] == alice.user_id
    assert not note["read"] and note["video_id"] is None
    assert alice.get("/api/notifications").json() == {"data": [], "next_cursor": None, "unread": 0}


def test_a_type_switched_off_is_not_stored(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    bob.put("/api/me/settings", json={"notifications": {"follow": False}})
    alice.post("/api/users/bob/follow")
    assert notes_of(site, bob.user_id) == []
    assert bob.get("/api/notifications").json()["unread"] == 0


def test_pages_run_newest_first_and_reading_counts_down(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    with site.state.factory() as db:
        for i in range(5):
            notify(db, to=bob.user_id, type="comment", actor=alice.user_id, comment_id=f"c{i}")
        db.commit()
    first = bob.get("/api/notifications", params={"limit": 2}).json()
    assert [n["comment_id"] for n in first["data"]] == ["c4", "c3"]
    assert {n["text"] for n in first["data"]} == {"@alice commented on your video"}
    second = bob.get(
        "/api/notifications", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    third = bob.get(
        "/api/notifications", params={"limit": 2, "cursor": second["next_cursor"]}
    ).json()
    ids = [n["id"] for page in (first, second, third) for n in page["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    assert third["next_cursor"] is None
    read = bob.post("/api/notifications/read", json={"ids": ids[:2]})
    assert read.json() == {"unread": 3}
    listed = bob.get("/api/notifications").json()["data"]
    assert [n["read"] for n in listed] == [True, True, False, False, False]
    assert bob.post("/api/notifications/read", json={}).json() == {"unread": 0}


def test_one_cannot_read_another_persons_notifications(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    alice.post("/api/users/bob/follow")
    [note] = notes_of(site, bob.user_id)
    assert alice.post("/api/notifications/read", json={"ids": [note.id]}).json() == {"unread": 0}
    assert bob.get("/api/notifications").json()["unread"] == 1


def test_bad_list_and_read_requests_name_the_field(site: AppUnderTest) -> None:
    bob = site.sign_up("bob")
    for params, param in [
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-3"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
    ]:
        response = bob.get("/api/notifications", params=params)
        assert response.status_code == 400 and error(response)["param"] == param, params
    not_ids = bob.post("/api/notifications/read", json={"ids": ["x"]})
    assert not_ids.status_code == 400
    too_many = bob.post("/api/notifications/read", json={"ids": list(range(1001))})
    assert too_many.status_code == 400 and error(too_many)["param"] == "ids"
    assert site.anonymous().get("/api/notifications").status_code == 401


def test_sentences_read_well_for_every_way_notify_is_called(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    with site.state.factory() as db:
        notify(db, to=bob.user_id, type="like", actor=alice.user_id, text="liked your video")
        notify(db, to=bob.user_id, type="remix", actor=alice.user_id)
        notify(db, to=bob.user_id, type="report", actor=None, text="your report was upheld")
        notify(db, to=bob.user_id, type="report", actor=alice.user_id, text="a new message")
        db.commit()
    texts = [n["text"] for n in bob.get("/api/notifications").json()["data"]]
    assert texts == [
        "a new message",
        "your report was upheld",
        "@alice remixed your video",
        "@alice liked your video",
    ]


# The hub, in process ----------------------------------------------------------------


def test_only_a_commit_that_notified_wakes_that_persons_streams(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    live: Live = site.app.state.live

    def rolled_back_then_other_work() -> None:
        with site.state.factory() as db:
            notify(db, to=bob.user_id, type="like", actor=alice.user_id)
            db.rollback()
            user = db.get(User, alice.user_id)
            assert user is not None
            user.bio = "unrelated"
            db.commit()

    def committed() -> None:
        with site.state.factory() as db:
            notify(db, to=bob.user_id, type="like", actor=alice.user_id)
            db.commit()

    async def scenario() -> None:
        bobs, alices = live.hub.open(bob.user_id), live.hub.open(alice.user_id)
        await asyncio.to_thread(rolled_back_then_other_work)
        assert not await bobs.wait(0.3)
        await asyncio.to_thread(committed)
        assert await bobs.wait(2.0)
        assert not await alices.wait(0.1)
        live.hub.close(bobs)
        live.hub.close(alices)
        assert live.hub.streams_of(bob.user_id) == 0

    asyncio.run(scenario())


# A real server ----------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> float:
        """SIGTERM, as a service manager stops it; the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started


def start_server(data_dir: Path, **env: str) -> Server:
    """`reelforge serve` (no worker) on a free port, ready. A free port can be taken by
    another test's server before ours binds it (xdist runs tests side by side), and then
    the other one would answer our health check: the port must be ours, or we try
    another."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        port = free_port()
        log = data_dir / f"server-{port}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "reelforge.cli", "serve", "--no-worker", "--port", str(port)],
            env={**os.environ, "REELFORGE_DATA_DIR": str(data_dir), **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        if process.poll() is None and listens_on(process.pid, port):
            return Server(url, process, log)
        process.kill()
        process.wait()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket of `port` (from /proc)."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    listening.add(f"socket:[{fields[9]}]")
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) in listening:
                return True
        except OSError:
            continue
    return False


def sign_up(url: str, handle: str) -> httpx.Client:
    """A person's browser on `url`: their cookie, and their CSRF token on every call."""
    client = httpx.Client(base_url=url, timeout=10)
    response = client.post("/api/signup", json={"handle": handle, "password": PASSWORD})
    assert response.status_code == 201, response.text
    client.headers["x-csrf-token"] = response.json()["csrf_token"]
    return client


class Stream:
    """An open notification stream, read by a thread into a queue of events."""

    def __init__(self, browser: httpx.Client, url: str, headers: dict[str, str] | None = None):
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.status = 0
        self._client = httpx.Client(
            base_url=url, cookies=browser.cookies, timeout=httpx.Timeout(10, read=60)
        )
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(headers or {},), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", "/api/notifications/stream", headers=headers) as r:
                self.status = r.status_code
                self._opened.set()
                event: dict[str, str] = {}
                for line in r.iter_lines():
                    if line.startswith(":"):
                        continue
                    if line == "":
                        if event:
                            self.events.put(event)
                        event = {}
                        continue
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()
            self.events.put({"event": "closed"})

    def next(self, name: str, timeout_s: float) -> dict[str, str]:
        """The next event called `name` (others before it are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(0.01, left))
            except queue.Empty:
                raise AssertionError(f"no {name!r} event within {timeout_s} s") from None
            if event.get("event") == name:
                return event
            if event.get("event") == "closed":
                raise AssertionError(f"the stream closed while waiting for {name!r}")

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = start_server(tmp_path / "data")
    yield s
    if s.process.poll() is None:
        s.stop()


def test_the_stream_delivers_a_notification_made_after_connecting(server: Server) -> None:
    alice, bob, carol = (sign_up(server.url, h) for h in ("alice", "bob", "carol"))
    carol.post("/api/users/bob/follow")  # before bob connects: counted, not sent again
    stream = Stream(bob, server.url)
    assert stream.status == 200
    assert json.loads(stream.next("unread", 5)["data"]) == {"unread": 1}
    followed_at = time.monotonic()
    assert alice.post("/api/users/bob/follow").status_code == 200
    event = stream.next("notification", LIVE_S)
    took_s = time.monotonic() - followed_at
    note = json.loads(event["data"])
    assert note["type"] == "follow" and note["text"] == "@alice followed you"
    assert note["actor"]["handle"] == "alice" and event["id"] == str(note["id"])
    assert json.loads(stream.next("unread", LIVE_S)["data"]) == {"unread": 2}
    assert took_s < LIVE_S
    stream.close()

    # A browser that reconnects says the last id it got and misses nothing after it.
    first_id = bob.get("/api/notifications").json()["data"][-1]["id"]
    resumed = Stream(bob, server.url, {"last-event-id": str(first_id)})
    again = json.loads(resumed.next("notification", LIVE_S)["data"])
    assert again["id"] == note["id"] and again["actor"]["handle"] == "alice"
    resumed.close()


def test_the_stream_needs_a_signed_in_person(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/notifications/stream", timeout=10)
    assert response.status_code == 401
    bob = sign_up(server.url, "bob")
    bad = bob.get("/api/notifications/stream", headers={"last-event-id": "yesterday"})
    assert bad.status_code == 400 and error(bad)["param"] == "Last-Event-ID"


def test_open_streams_do_not_hold_up_stopping_the_server(server: Server) -> None:
    bob = sign_up(server.url, "bob")
    streams = [Stream(bob, server.url) for _ in range(2)]
    for stream in streams:
        stream.next("unread", 5)
    assert server.stop() < 5.0
    assert server.process.returncode is not None
    for stream in streams:
        stream.next("closed", 5)
