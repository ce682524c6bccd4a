"""Prometheus /metrics on a real `reelforge serve`: requests by route template and status,
latency, videos per status read at scrape time, and who may read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.app.test_limits import _client, _env
from tests.app.test_notifications import Server, start_server
from tests.e2e.test_videos_api import cli

TOKEN = "metrics-secret-for-tests"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    key = cli(_env(tmp_path / "data"), "keys", "create", "--user", "ada")
    running = start_server(tmp_path / "data", REELFORGE_METRICS_TOKEN=TOKEN)
    yield running, key
    running.stop()


def _samples(url: str, token: str = TOKEN) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_count_requests_by_route_and_read_the_queue(server: tuple[Server, str]) -> None:
    running, key = server
    client = _client(running, key)
    videos = [client.videos.create(prompt=f"a ball {i}", seconds="4") for i in range(2)]
    for video in videos:
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_missing")

    samples = _samples(running.url)
    route = "/v1/videos/{video_id}"
    assert (
        samples[
            (
                "reelforge_http_requests_total",
                frozenset({("method", "GET"), ("route", route), ("status", "200")}),
            )
        ]
        == 2
    )
    assert (
        samples[
            (
                "reelforge_http_requests_total",
                frozenset({("method", "GET"), ("route", route), ("status", "404")}),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "reelforge_http_requests_total",
                frozenset({("method", "POST"), ("route", "/v1/videos"), ("status", "200")}),
            )
        ]
        == 2
    )
    # Ids never become labels.
    assert not any(videos[0].id in str(labels) for _, labels in samples)
    assert (
        samples[
            (
                "reelforge_http_request_duration_seconds_count",
                frozenset({("method", "GET"), ("route", route)}),
            )
        ]
        == 3
    )
    # No worker runs in this server: both videos wait in the queue.
    assert samples[("reelforge_videos", frozenset({("status", "queued")}))] == 2
    assert samples[("reelforge_job_heartbeat_age_seconds_max", frozenset())] == 0
    assert ("reelforge_job_duration_seconds_count", frozenset()) in samples
    assert samples[("reelforge_webhook_backlog", frozenset())] == 0  # the outbox is empty
    # After a delete, the next scrape says so.
    client.videos.delete(videos[0].id)
    assert _samples(running.url)[("reelforge_videos", frozenset({("status", "queued")}))] == 1


def test_metrics_need_the_token(server: tuple[Server, str]) -> None:
    running, _ = server
    assert httpx.get(f"{running.url}/metrics").status_code == 403
    wrong = httpx.get(f"{running.url}/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert "REELFORGE_METRICS_TOKEN" in wrong.json()["error"]["message"]


def test_without_a_token_only_this_host_reads_metrics(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data")
    try:
        # The test client is on loopback: allowed, with no token at all.
        assert httpx.get(f"{running.url}/metrics").status_code == 200
    finally:
        running.stop()
