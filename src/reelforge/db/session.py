"""Engines and sessions from Settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.migrations import upgrade
from reelforge.settings import Settings

# Connections are only held inside one worker thread (service/deps.py `run_db`), so the
# server never needs more than its thread pool (40) at once; waiting for one is bounded by
# running work, and a request that still waits POOL_TIMEOUT_S gets a 503.
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT_S = 10, 30, 10.0
SQLITE_BUSY_SNAPSHOT = 517  # SQLITE_BUSY | (2 << 8)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / 'reelforge.db'}"


def make_engine(settings: Settings) -> Engine:
    url = database_url(settings)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT_S,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT_S,
        )
    # Every entry point starts on the newest schema: `alembic upgrade head`, under a lock
    # (PostgreSQL advisory lock; SQLite: fcntl lock file next to the database).
    upgrade(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


def is_stale_snapshot(error: OperationalError) -> bool:
    """True for SQLite's BUSY_SNAPSHOT: a transaction that read, then tried to write after
    another connection had committed. WAL cannot upgrade a stale read snapshot to a write, so
    SQLite refuses at once, whatever the busy timeout ("database is locked" after 0 s). The
    whole transaction has to run again; nothing of it was written.

    pysqlite leaves reads outside a transaction until the first write, so this happens where a
    transaction begins before its first write: a SAVEPOINT (`Session.begin_nested`), or a read
    whose cursor is still open when the write comes."""
    return getattr(error.orig, "sqlite_errorcode", None) == SQLITE_BUSY_SNAPSHOT
