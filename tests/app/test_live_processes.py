"""Live notifications across server processes: two `reelforge serve` sharing PostgreSQL and
Redis, as the scale-out deployment runs them. A person streaming from one process gets,
within seconds, what someone did through the other (through Redis pub/sub; the streams'
own polling alone would take POLL_S).

Needs REELFORGE_TEST_DATABASE_URL (a PostgreSQL URL whose user may create databases: each
test gets its own scratch database) and REELFORGE_TEST_REDIS_URL; `bin/test` starts both
through `bin/services`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.app.conftest import PASSWORD
from tests.app.test_notifications import LIVE_S, Server, Stream, sign_up, start_server
from tests.servers import scratch_database

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL or not REDIS_URL,
    reason="REELFORGE_TEST_DATABASE_URL / REELFORGE_TEST_REDIS_URL are not set; start them "
    'with: eval "$(bin/services start /tmp/rf-services)"',
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    assert PG_URL
    with scratch_database(PG_URL) as url:
        yield url


@pytest.fixture
def two_servers(tmp_path: Path, pg_url: str) -> Iterator[tuple[Server, Server]]:
    """Two processes of one deployment: one database, one Redis, one queue name (its own
    for this test, so the channel is too), one media folder."""
    assert REDIS_URL
    env = {
        "REELFORGE_DATABASE_URL": pg_url,
        "REELFORGE_QUEUE_URL": REDIS_URL,
        "REELFORGE_REDIS_URL": REDIS_URL,
        "REELFORGE_QUEUE_NAME": f"reelforge-live-{uuid.uuid4().hex[:8]}",
    }
    first = start_server(tmp_path / "data", **env)
    second = start_server(tmp_path / "data", **env)
    yield first, second
    for server in (first, second):
        if server.process.poll() is None:
            server.stop()


def test_a_follow_through_one_process_reaches_a_stream_on_the_other(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    bob = sign_up(a.url, "bob")
    alice = sign_up(b.url, "alice")
    stream = Stream(bob, a.url)
    assert json.loads(stream.next("unread", 5)["data"]) == {"unread": 0}
    followed_at = time.monotonic()
    assert alice.post("/api/users/bob/follow").status_code == 200
    note = json.loads(stream.next("notification", LIVE_S)["data"])
    assert time.monotonic() - followed_at < LIVE_S
    assert note["type"] == "follow" and note["actor"]["handle"] == "alice"
    stream.close()

    # And back the other way, several times: each one arrives, none twice.
    alices_stream = Stream(alice, b.url)
    alices_stream.next("unread", 5)
    carol = sign_up(a.url, "carol")
    for person, handle in ((bob, "bob"), (carol, "carol")):
        assert person.post("/api/users/alice/follow").status_code == 200
        got = json.loads(alices_stream.next("notification", LIVE_S)["data"])
        assert got["actor"]["handle"] == handle
    assert json.loads(alices_stream.next("unread", LIVE_S)["data"]) == {"unread": 2}
    with pytest.raises(AssertionError, match="no 'notification' event"):
        alices_stream.next("notification", 1.0)
    alices_stream.close()


@pytest.fixture
def deployment(tmp_path: Path, pg_url: str) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    """Two server processes and a separate `reelforge worker`, as a scale-out deployment
    runs them: PostgreSQL for the rows, Redis for the job queue and the live channel."""
    assert REDIS_URL
    env = {
        "REELFORGE_DATABASE_URL": pg_url,
        "REELFORGE_QUEUE_URL": REDIS_URL,
        "REELFORGE_REDIS_URL": REDIS_URL,
        "REELFORGE_QUEUE_NAME": f"reelforge-app-{uuid.uuid4().hex[:8]}",
        "REELFORGE_VISIBLE_WATERMARK": "false",
    }
    data = tmp_path / "data"
    first, second = start_server(data, **env), start_server(data, **env)
    full_env = {**os.environ, "REELFORGE_DATA_DIR": str(data), **env}
    worker = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "worker"],
        env=full_env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    yield first, second, full_env
    worker.terminate()
    worker.wait(timeout=30)
    for server in (first, second):
        if server.process.poll() is None:
            server.stop()


def test_the_app_end_to_end_across_processes(
    deployment: tuple[Server, Server, dict[str, str]],
) -> None:
    """Alice makes and posts a clip through one process; Bob, on the other, finds it in
    For You with its why and in Following, likes and comments, and Alice hears both live;
    Bob reports it, a moderator upholds, and it is gone from both feeds."""
    a, b, env = deployment
    alice, bob = sign_up(a.url, "alice"), sign_up(b.url, "bob")
    subprocess.run(
        [sys.executable, "-m", "reelforge.cli", "users", "create", "mod", "--moderator",
         "--password-stdin"],
        input=PASSWORD, env=env, check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    moderator = httpx.Client(base_url=a.url, timeout=10)
    session = moderator.post("/api/login", json={"handle": "mod", "password": PASSWORD})
    assert session.status_code == 200, session.text
    moderator.headers["x-csrf-token"] = session.json()["csrf_token"]

    made = alice.post("/api/videos", json={"prompt": "a red ball bounces on a wooden floor"})
    assert made.status_code == 200, made.text
    video_id = made.json()["id"]
    deadline = time.monotonic() + 240
    while (status := alice.get(f"/api/videos/{video_id}").json()["status"]) != "completed":
        assert status != "failed" and time.monotonic() < deadline, status
        time.sleep(0.5)
    posted = alice.post(f"/api/videos/{video_id}/post", json={"caption": "a ball, bouncing"})
    assert posted.status_code == 200, posted.text
    for server in (a, b):  # still serving (if not, why: its log)
        assert server.process.poll() is None, server.log.read_text()[-2000:]

    page = bob.get("/api/feed/for-you").json()["data"]
    item = next(p for p in page if p["id"] == video_id)
    assert item["why"]["terms"] and item["why"]["text"]
    assert bob.post("/api/users/alice/follow").status_code == 200
    following = bob.get("/api/feed/following").json()["data"]
    assert [p["id"] for p in following] == [video_id]

    stream = Stream(alice, a.url)
    stream.next("unread", 5)
    assert bob.post(f"/api/posts/{video_id}/like").status_code == 200
    assert json.loads(stream.next("notification", LIVE_S)["data"])["type"] == "like"
    comment = bob.post(f"/api/posts/{video_id}/comments", json={"body": "nice bounce"})
    assert comment.status_code in (200, 201), comment.text
    assert json.loads(stream.next("notification", LIVE_S)["data"])["type"] == "comment"

    report = bob.post(
        "/api/reports", json={"target_type": "post", "target_id": video_id, "reason": "harmful"}
    )
    assert report.status_code in (200, 201), report.text
    resolved = moderator.post(
        f"/api/reports/{report.json()['id']}/resolve", json={"outcome": "upheld"}
    )
    assert resolved.status_code == 200, resolved.text
    for feed in ("for-you", "following"):
        assert video_id not in [p["id"] for p in bob.get(f"/api/feed/{feed}").json()["data"]]
    assert bob.get(f"/api/posts/{video_id}").status_code == 404
    assert alice.get("/api/users/alice/posts").json()["data"] == []
    assert json.loads(stream.next("notification", LIVE_S)["data"])["type"] == "report"
    stream.close()
