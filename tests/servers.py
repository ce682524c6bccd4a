"""What tests that start real processes share: a free local port, a scratch PostgreSQL
database, and each backend's settings."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

# Started by the test command (bin/test, through bin/services).
PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REELFORGE_TEST_REDIS_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `server_url` (whose user may
    create databases); its URL, and it is dropped afterwards."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"reelforge_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def backend_settings(name: str) -> Iterator[dict[str, str]]:
    """The environment `reelforge serve` and `reelforge worker` need for a backend:
    "sqlite", the embedded default (nothing to set), or "postgres+redis", a scratch
    database on the test PostgreSQL with the queue and the rate limits in the test Redis
    (the test is skipped when those are not running)."""
    if name == "sqlite":
        yield {}
        return
    if not (PG_URL and REDIS_URL):
        pytest.skip("REELFORGE_TEST_DATABASE_URL / REELFORGE_TEST_REDIS_URL are not set")
    with scratch_database(PG_URL) as url:
        yield {
            "REELFORGE_DATABASE_URL": url,
            "REELFORGE_QUEUE_URL": REDIS_URL,
            "REELFORGE_REDIS_URL": REDIS_URL,
        }
