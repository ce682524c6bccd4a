"""Request limits per API key and route class (service/limits.py), on real `reelforge
serve` processes driven by the official `openai` SDK.

- Clients polling at the interval the API advises (`openai-poll-after-ms`) never meet
  the read limit, three of them at once for one key.
- A burst of creates meets the create limit (429 naming it, with Retry-After) while
  reads go on.
- Two server processes on one Redis enforce one limit. Needs REELFORGE_TEST_REDIS_URL
  and REELFORGE_TEST_DATABASE_URL (`bin/test` starts both through `bin/services`).
- The app's /api writes by a signed-in person (cookie and CSRF token) spend the same
  per-user write budget as /v1: a 429 in the same envelope with Retry-After; their reads
  and the view beacon do not; another person's budget is their own. On SQLite, and on
  PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from tests.app.test_notifications import Server, sign_up, start_server
from tests.e2e.test_videos_api import cli
from tests.servers import scratch_database

from reelforge.settings import Settings

warnings.filterwarnings("ignore", category=DeprecationWarning)

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS_URL")
POLLERS = 3


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "REELFORGE_DATA_DIR": str(data_dir), **extra}


def _client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """One server with the default limits except 3 creates a minute; a key for `ada`."""
    env = {
        "REELFORGE_CREATE_RATE_LIMIT_PER_MINUTE": "3",
        "REELFORGE_VERIFY_RATE_LIMIT_PER_MINUTE": "2",
    }
    key = cli(_env(tmp_path / "data", **env), "keys", "create", "--user", "ada")
    running = start_server(tmp_path / "data", **env)
    yield running, key
    running.stop()


def test_three_pollers_at_the_advised_interval_never_meet_the_read_limit(
    server: tuple[Server, str],
) -> None:
    running, key = server
    client = _client(running, key)
    video = client.videos.create(prompt="a red ball bounces", seconds="4")
    raw = client.videos.with_raw_response.retrieve(video.id)
    poll_after_ms = int(raw.headers["openai-poll-after-ms"])
    # In any 60 s, a client polling every poll_after_ms sends at most this many reads.
    # Sending them all at once is the worst case of that minute for the moving window, so
    # if this burst passes, polling at the advised interval passes at any moment.
    per_poller = 60_000 // poll_after_ms
    assert POLLERS * per_poller <= Settings().poll_rate_limit_per_minute

    def poll(_: int) -> int:
        mine = _client(running, key)  # one SDK client per poller, as three processes have
        return sum(mine.videos.retrieve(video.id).id == video.id for _ in range(per_poller))

    with ThreadPoolExecutor(POLLERS) as pool:
        assert sum(pool.map(poll, range(POLLERS))) == POLLERS * per_poller
    # The reads were not the create limit's: creating still works.
    assert client.videos.create(prompt="a blue cube", seconds="4").status == "queued"


def test_a_create_burst_is_limited_while_reads_go_on(server: tuple[Server, str]) -> None:
    running, key = server
    client = _client(running, key)
    made = [client.videos.create(prompt=f"a ball number {i}", seconds="4") for i in range(3)]
    with pytest.raises(openai.RateLimitError) as refused:
        client.videos.create(prompt="one too many", seconds="4")
    assert refused.value.status_code == 429
    assert "3 create requests per minute" in refused.value.message
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert refused.value.code == "rate_limit_exceeded"
    for video in made:
        assert client.videos.retrieve(video.id).status == "queued"
    assert {v.id for v in client.videos.list()} >= {v.id for v in made}
    # Other writes have their own limit: a delete still goes through.
    assert client.videos.delete(made[0].id).deleted
    # Verifying uploads (seconds of CPU each) has its own, smaller one.
    auth = {"authorization": f"Bearer {key}"}
    junk = {"file": ("clip.mp4", b"not a video", "video/mp4")}
    verify = f"{running.url}/v1/provenance/verify"
    answers = [httpx.post(verify, headers=auth, files=junk, timeout=30) for _ in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 429]  # not a video; then the limit
    assert "2 verify requests per minute" in answers[2].json()["error"]["message"]
    assert client.videos.retrieve(made[1].id).status == "queued"  # reads still go on


@pytest.mark.skipif(
    not REDIS_URL or not PG_URL,
    reason="REELFORGE_TEST_REDIS_URL / REELFORGE_TEST_DATABASE_URL are not set; start them "
    'with: eval "$(bin/services start /tmp/rf-services)"',
)
def test_two_server_processes_on_one_redis_share_one_limit(tmp_path: Path) -> None:
    assert REDIS_URL and PG_URL
    with scratch_database(PG_URL) as database_url:
        env = {
            "REELFORGE_DATABASE_URL": database_url,
            "REELFORGE_QUEUE_URL": REDIS_URL,
            "REELFORGE_REDIS_URL": REDIS_URL,
            "REELFORGE_QUEUE_NAME": f"reelforge-limits-{uuid.uuid4().hex[:8]}",
            "REELFORGE_CREATE_RATE_LIMIT_PER_MINUTE": "4",
        }
        key = cli(_env(tmp_path / "data", **env), "keys", "create", "--user", "ada")
        first = start_server(tmp_path / "data", **env)
        second = start_server(tmp_path / "data", **env)
        try:
            a, b = _client(first, key), _client(second, key)
            for client in (a, b, a, b):
                client.videos.create(prompt="a red ball", seconds="4")
            # Each process alone has seen two of its four; together they have seen four.
            for client in (a, b):
                with pytest.raises(openai.RateLimitError):
                    client.videos.create(prompt="a red ball", seconds="4")
        finally:
            first.stop()
            second.stop()


@pytest.fixture(params=["sqlite", "postgres+redis"])
def app_server(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server allowing 3 writes a minute per user, on each backend; its environment."""
    env = {"REELFORGE_RATE_LIMIT_PER_MINUTE": "3"}
    data = tmp_path / "data"
    if request.param == "sqlite":
        running = start_server(data, **env)
        yield running, _env(data, **env)
        running.stop()
        return
    if not (REDIS_URL and PG_URL):
        pytest.skip("REELFORGE_TEST_DATABASE_URL / REELFORGE_TEST_REDIS_URL are not set")
    with scratch_database(PG_URL) as database_url:
        env |= {
            "REELFORGE_DATABASE_URL": database_url,
            "REELFORGE_QUEUE_URL": REDIS_URL,
            "REELFORGE_REDIS_URL": REDIS_URL,
            "REELFORGE_QUEUE_NAME": f"reelforge-limits-{uuid.uuid4().hex[:8]}",
        }
        running = start_server(data, **env)
        try:
            yield running, _env(data, **env)
        finally:
            running.stop()


def test_the_apps_writes_share_the_per_user_write_limit_with_v1(
    app_server: tuple[Server, dict[str, str]],
) -> None:
    running, env = app_server
    ada, bob = sign_up(running.url, "ada"), sign_up(running.url, "bob")
    for write in (
        lambda: ada.patch("/api/me", json={"bio": "I draw with light"}),
        lambda: ada.put("/api/me/settings", json={"notifications": {"follow": False}}),
        lambda: ada.post("/api/users/bob/follow"),
    ):
        assert write().status_code == 200
    refused = ada.delete("/api/users/bob/follow")
    assert refused.status_code == 429, refused.text
    assert refused.json() == {
        "error": {
            "message": refused.json()["error"]["message"],
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert "3 write requests per minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Reads, and the view beacon a scrolling feed sends per post, are not writes.
    assert ada.get("/api/users/bob").status_code == 200
    assert ada.post("/api/posts/video_nobody/view", json={}).status_code != 429
    # A forged request without the CSRF token is refused before it is counted: bob's own
    # three writes all go through after it.
    forged = httpx.post(f"{running.url}/api/users/ada/follow", cookies=bob.cookies)
    assert forged.status_code == 403
    assert bob.post("/api/users/ada/follow").status_code == 200
    assert bob.post("/api/users/ada/hide").status_code == 200
    assert bob.delete("/api/users/ada/hide").status_code == 200
    assert bob.delete("/api/users/ada/follow").status_code == 429
    # /v1 with ada's API key spends the same budget: one user, one limit.
    key = cli(env, "keys", "create", "--user", "ada")
    v1 = httpx.delete(
        f"{running.url}/v1/videos/video_nobody", headers={"Authorization": f"Bearer {key}"}
    )
    assert v1.status_code == 429 and v1.json()["error"]["code"] == "rate_limit_exceeded"
