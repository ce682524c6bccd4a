"""Request limits per API key and route class (service/limits.py), on real `reelforge
serve` processes driven by the official `openai` SDK.

- Clients polling at the interval the API advises (`openai-poll-after-ms`) never meet
  the read limit, three of them at once for one key.
- A burst of creates meets the create limit (429 naming it, with Retry-After) while
  reads go on.
- Two server processes on one Redis enforce one limit. Needs REELFORGE_TEST_REDIS_URL
  and REELFORGE_TEST_DATABASE_URL (`bin/test` starts both through `bin/services`).
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
from tests.app.test_notifications import Server, start_server
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
    env = {"REELFORGE_CREATE_RATE_LIMIT_PER_MINUTE": "3"}
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
