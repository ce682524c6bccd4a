"""GET /readyz through the real app: 200 when the database, the queue and storage all
answer (SQLite, and PostgreSQL + Redis when the test services are running); 503 naming
the part that does not, without its password or path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from tests.app.conftest import app_settings
from tests.servers import scratch_database

from reelforge.db.session import session_factory
from reelforge.service.app import create_app

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS_URL")
SECRET = "hunter2-do-not-show"
ALL_OK = {"database": "ok", "queue": "ok", "storage": "ok"}


def ready(data_dir: Path, **settings: Any) -> tuple[int, dict[str, Any]]:
    app = create_app(app_settings(data_dir, **settings), run_worker=False)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.get("/readyz")
    assert SECRET not in response.text
    body: dict[str, Any] = response.json()
    return response.status_code, body


def test_ready_on_sqlite_and_the_probe_object_is_gone(tmp_path: Path) -> None:
    status, body = ready(tmp_path / "data")
    assert (status, body) == (200, {"status": "ready", "checks": ALL_OK})
    media = tmp_path / "data" / "media"
    assert media.is_dir() and not any(media.rglob("*readyz*")) and not any(media.rglob("probe"))
    leftovers = [p for p in media.rglob("*") if p.is_file()]
    assert leftovers == []


def test_storage_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "media").write_text("a file where the media folder should be")
    status, body = ready(data)
    assert status == 503 and body["status"] == "not ready"
    assert body["failing"] == ["storage"]
    assert body["checks"]["database"] == body["checks"]["queue"] == "ok"
    assert body["checks"]["storage"].startswith("failed: ")


def test_a_queue_that_does_not_answer_is_named_without_its_password(tmp_path: Path) -> None:
    status, body = ready(tmp_path / "data", queue_url=f"redis://:{SECRET}@127.0.0.1:1/0")
    assert status == 503 and body["failing"] == ["queue"]
    assert body["checks"]["queue"].startswith("failed: ")
    assert body["checks"]["database"] == body["checks"]["storage"] == "ok"


def test_a_database_gone_away_is_named_without_its_password(tmp_path: Path) -> None:
    """Started on SQLite, then its sessions pointed at a PostgreSQL server that refuses
    connections (as when the database goes down under a running server)."""
    app = create_app(app_settings(tmp_path / "data"), run_worker=False)
    gone = create_engine(f"postgresql+psycopg://reelforge:{SECRET}@127.0.0.1:1/reelforge")
    app.state.reelforge.deployment.factory = session_factory(gone)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.get("/readyz")
    assert SECRET not in response.text
    body = response.json()
    assert response.status_code == 503 and body["failing"] == ["database"]
    assert body["checks"]["database"] == "failed: OperationalError"
    assert body["checks"]["queue"] == body["checks"]["storage"] == "ok"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL or not REDIS_URL:
        pytest.skip("REELFORGE_TEST_DATABASE_URL / REELFORGE_TEST_REDIS_URL are not set")
    with scratch_database(PG_URL) as url:
        yield url


def test_ready_on_postgresql_and_redis(tmp_path: Path, pg_url: str) -> None:
    status, body = ready(
        tmp_path / "data", database_url=pg_url, queue_url=REDIS_URL, queue_name="readyz-test"
    )
    assert (status, body) == (200, {"status": "ready", "checks": ALL_OK})
