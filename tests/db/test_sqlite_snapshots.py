"""SQLite under WAL refuses, at once, a write from a transaction whose read snapshot another
connection's commit made stale (BUSY_SNAPSHOT, "database is locked" whatever the busy
timeout). The API's database work runs such a transaction again, and only when nothing of it
was committed. This is what once turned a character upload into a 503 in CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from reelforge.db.session import is_stale_snapshot, make_engine, session_factory
from reelforge.service.deps import SNAPSHOT_ATTEMPTS, _in_session
from reelforge.settings import Settings


@pytest.fixture
def engines(tmp_path: Path) -> tuple[Engine, Engine]:
    settings = Settings(data_dir=tmp_path)
    ours, theirs = make_engine(settings), make_engine(settings)
    with ours.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE things (name TEXT)")
    return ours, theirs


def _read_then_write(db: Session, theirs: Engine, name: str, *, interfere: bool) -> int:
    """A savepoint opens the SQLite transaction; it reads, another connection commits
    (when `interfere`), then it writes."""
    with db.begin_nested():
        seen = db.execute(text("SELECT count(*) FROM things")).scalar_one()
        if interfere:
            with theirs.begin() as connection:
                connection.exec_driver_sql("INSERT INTO things VALUES ('theirs')")
        db.execute(text("INSERT INTO things VALUES (:name)"), {"name": name})
    db.commit()
    return int(seen)


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT name FROM things")]


def test_a_stale_snapshot_is_refused_at_once(engines: tuple[Engine, Engine]) -> None:
    ours, theirs = engines
    with session_factory(ours)() as db, pytest.raises(OperationalError) as refused:
        _read_then_write(db, theirs, "ours", interfere=True)
    assert is_stale_snapshot(refused.value)
    assert _names(ours) == ["theirs"]  # nothing of ours was written


def test_database_work_runs_again_after_a_stale_snapshot(
    engines: tuple[Engine, Engine],
) -> None:
    ours, theirs = engines
    calls: list[int] = []

    def work(db: Session) -> int:
        calls.append(1)
        return _read_then_write(db, theirs, "ours", interfere=len(calls) == 1)

    assert _in_session(session_factory(ours), work) == 1  # the second run saw their row
    assert len(calls) == 2
    assert sorted(_names(ours)) == ["ours", "theirs"]


def test_work_that_committed_is_never_run_again(engines: tuple[Engine, Engine]) -> None:
    ours, theirs = engines
    calls: list[int] = []

    def work(db: Session) -> int:
        calls.append(1)
        db.execute(text("INSERT INTO things VALUES ('first')"))
        db.commit()
        return _read_then_write(db, theirs, "second", interfere=True)

    with pytest.raises(OperationalError):
        _in_session(session_factory(ours), work)
    assert len(calls) == 1
    assert sorted(_names(ours)) == ["first", "theirs"]


def test_it_gives_up_after_its_attempts(engines: tuple[Engine, Engine]) -> None:
    ours, theirs = engines
    calls: list[int] = []

    def work(db: Session) -> int:
        calls.append(1)
        return _read_then_write(db, theirs, "ours", interfere=True)

    with pytest.raises(OperationalError):
        _in_session(session_factory(ours), work)
    assert len(calls) == SNAPSHOT_ATTEMPTS
    assert "ours" not in _names(ours)
