"""Alembic migrations: the revisions build exactly the models' schema, on SQLite and on
PostgreSQL; upgrading is idempotent and safe when processes start at once.

The PostgreSQL tests need a server: REELFORGE_TEST_DATABASE_URL, a URL whose user may
CREATE DATABASE (each test gets its own scratch database). `bin/services start DIR` starts one
and prints the variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from tests.servers import scratch_database

from reelforge.db.keys import create_key, user_for_key
from reelforge.db.migrations import BASELINE, config, current_revision, upgrade
from reelforge.db.models import ApiKey, Base, Cameo, User, Video
from reelforge.db.session import make_engine, session_factory, transaction
from reelforge.settings import Settings

PG_URL = os.environ.get("REELFORGE_TEST_DATABASE_URL")
requires_pg = pytest.mark.skipif(
    not PG_URL,
    reason="REELFORGE_TEST_DATABASE_URL is not set (a PostgreSQL URL whose user may create "
    'databases); start one with: eval "$(bin/services start /tmp/rf-services)"',
)

HEAD = ScriptDirectory.from_config(config()).get_current_head()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def assert_schema_is_models(engine: Engine) -> None:
    assert schema_differences(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert tables == {*Base.metadata.tables, "alembic_version"}
    assert current_revision(engine) == HEAD


def schema_snapshot(engine: Engine) -> dict[str, object]:
    """Tables, columns (name, type, nullable), indexes and the stamped revision."""
    inspector = inspect(engine)
    return {
        "revision": current_revision(engine),
        **{
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted(
                    (i["name"] or "", tuple(i["column_names"]))
                    for i in inspector.get_indexes(table)
                ),
            )
            for table in sorted(inspector.get_table_names())
        },
    }


def settings_for(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url)


def make_engines_at_once(tmp_path: Path, url: str | None, processes: int = 4) -> None:
    """`processes` interpreters, all imported and waiting, call make_engine at the same
    instant on the same (new) database; every one must succeed."""
    start_at = time.time() + 4.0  # after every interpreter has imported SQLAlchemy & co.
    code = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from reelforge.db.session import make_engine
        from reelforge.settings import Settings

        data_dir, url, start_at = Path(sys.argv[1]), sys.argv[2] or None, float(sys.argv[3])
        settings = Settings(data_dir=data_dir, database_url=url)
        time.sleep(max(0.0, start_at - time.time()))
        make_engine(settings).dispose()
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "data"), url or "", str(start_at)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    for child, output in zip(children, outputs, strict=True):
        assert child.returncode == 0, output


# SQLite ------------------------------------------------------------------------------------


def test_sqlite_fresh_upgrade_is_the_models_schema(tmp_path: Path) -> None:
    engine = make_engine(settings_for(tmp_path))
    try:
        assert_schema_is_models(engine)
        assert (tmp_path / "data" / "reelforge.db.migrate.lock").exists()
    finally:
        engine.dispose()


def test_sqlite_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    engine = make_engine(settings_for(tmp_path))
    try:
        factory = session_factory(engine)
        with transaction(factory) as session:
            key = create_key(session, "ada")
        before = schema_snapshot(engine)
        upgrade(engine)
        engine2 = make_engine(settings_for(tmp_path))
        engine2.dispose()
        assert schema_snapshot(engine) == before
        with transaction(factory) as session:
            user = user_for_key(session, key)
            assert user is not None and user.name == "ada"
    finally:
        engine.dispose()


def test_sqlite_concurrent_make_engine(tmp_path: Path) -> None:
    make_engines_at_once(tmp_path, None)
    engine = make_engine(settings_for(tmp_path))
    try:
        assert_schema_is_models(engine)
    finally:
        engine.dispose()


def test_sqlite_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    engine = make_engine(settings_for(tmp_path))
    try:
        with engine.begin() as connection:
            command.downgrade(config(engine.url, connection), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(engine)
        assert_schema_is_models(engine)
    finally:
        engine.dispose()


def test_sqlite_adopts_a_database_made_by_create_all(tmp_path: Path) -> None:
    """Before migrations, make_engine ran create_all: such a database is stamped, not
    re-created."""
    (tmp_path / "data").mkdir()
    legacy = create_engine(f"sqlite:///{tmp_path / 'data' / 'reelforge.db'}")
    Base.metadata.create_all(legacy)
    legacy.dispose()
    engine = make_engine(settings_for(tmp_path))
    try:
        assert_schema_is_models(engine)
    finally:
        engine.dispose()


def test_sqlite_adopts_a_baseline_database_and_keeps_its_rows(tmp_path: Path) -> None:
    """A database at the baseline schema without alembic_version (create_all before the
    first migration after it) is stamped at the baseline and upgraded; rows survive."""
    url = f"sqlite:///{tmp_path / 'data' / 'reelforge.db'}"
    (tmp_path / "data").mkdir()
    scratch = create_engine(url)
    upgrade(scratch, BASELINE)
    with scratch.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("INSERT INTO users VALUES ('user_1', 'ada', 1)"))
        connection.execute(
            text(
                "INSERT INTO videos (id, user_id, status, progress, model, engine, prompt, size,"
                " seconds, seed, created_at, attempts, cancel_requested, sequence) VALUES"
                " ('video_1', 'user_1', 'completed', 100, 'sora-2', 'sim', 'a ball', '720x1280',"
                " '4', 7, 1, 1, 0, :sequence)"
            ),
            {"sequence": time.time_ns()},
        )
    scratch.dispose()
    engine = make_engine(settings_for(tmp_path))
    try:
        assert_schema_is_models(engine)
        with transaction(session_factory(engine)) as session:
            video = session.get(Video, "video_1")
            assert video is not None and video.prompt == "a ball"
            # 0002 added videos.kind; the server default fills in the existing rows.
            assert session.scalar(text("SELECT kind FROM videos")) == "create"
    finally:
        engine.dispose()


# PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    assert PG_URL
    with scratch_database(PG_URL) as url:
        yield url


@requires_pg
def test_pg_fresh_upgrade_is_the_models_schema(tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(settings_for(tmp_path, pg_url))
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        assert_schema_is_models(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type"
                    " FROM information_schema.columns WHERE table_schema = 'public'"
                )
            )
            types: dict[str, str] = {str(name): str(kind) for name, kind in rows}
        assert types["videos.sequence"] == "bigint"
        assert types["videos.prompt"] == "text"
        assert types["videos.plan_json"] == "text"
        assert "videos.cancel_requested" not in types  # dropped by 0003
        assert types["api_keys.revoked"] == "boolean"
        assert types["videos.heartbeat_at"] == "double precision"
        assert types["videos.id"] == "character varying"
    finally:
        engine.dispose()


@requires_pg
def test_pg_upgrade_twice_is_a_no_op(tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(settings_for(tmp_path, pg_url))
    try:
        before = schema_snapshot(engine)
        upgrade(engine)
        make_engine(settings_for(tmp_path, pg_url)).dispose()
        assert schema_snapshot(engine) == before
    finally:
        engine.dispose()


@requires_pg
def test_pg_concurrent_make_engine(tmp_path: Path, pg_url: str) -> None:
    make_engines_at_once(tmp_path, pg_url)
    engine = make_engine(settings_for(tmp_path, pg_url))
    try:
        assert_schema_is_models(engine)
    finally:
        engine.dispose()


@requires_pg
def test_pg_downgrade_to_base_and_up_again(tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(settings_for(tmp_path, pg_url))
    try:
        with engine.begin() as connection:
            command.downgrade(config(engine.url, connection), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(engine)
        assert_schema_is_models(engine)
    finally:
        engine.dispose()


@requires_pg
def test_pg_keys_and_videos_round_trip(tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(settings_for(tmp_path, pg_url))
    try:
        factory = session_factory(engine)
        with transaction(factory) as session:
            key = create_key(session, "ada")
            again = create_key(session, "ada")  # the same user, a second key
        sequence = time.time_ns()  # > 2**31: needs BIGINT
        with transaction(factory) as session:
            user = user_for_key(session, key)
            assert user is not None and user.name == "ada"
            assert user_for_key(session, again) == user
            assert user_for_key(session, "rf_not_a_key") is None
            session.add(
                Video(
                    id="video_1",
                    user_id=user.id,
                    model="sora-2",
                    engine="sim",
                    prompt="a ball " * 1000,  # Text: no length limit
                    size="720x1280",
                    seconds="4",
                    seed=2**31 - 1,
                    sequence=sequence,
                    heartbeat_at=time.time(),
                )
            )
        with transaction(factory) as session:
            video = session.get(Video, "video_1")
            assert video is not None
            assert video.sequence == sequence
            assert video.status == "queued"
            assert len(video.prompt) == 7000
            for row in session.scalars(select(ApiKey).where(ApiKey.key_hash != "")):
                row.revoked = True
        with transaction(factory) as session:
            assert user_for_key(session, key) is None
            assert session.scalars(select(User)).one().name == "ada"
    finally:
        engine.dispose()


def test_head_revision_from_file_names_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from reelforge.db.migrations import head_revision

    assert ScriptDirectory.from_config(config()).get_current_head() == head_revision() == HEAD


# 0011: the API's characters become character cameos -----------------------------------


def _old_character_becomes_a_cameo(engine: Engine) -> None:
    """At 0010, with a user who has an old `characters` row (and a cameo already holding
    the handle its name gives), upgrade to head: the row is a character cameo of theirs,
    same id and name, its upload as the source, a free handle from its name."""
    upgrade(engine, "0010")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, name, created_at) VALUES ('u1', 'ada', 1)"))
        connection.execute(
            text(
                "INSERT INTO cameos (id, owner_id, handle, kind, display_name, access,"
                " approve_before_posting, no_appearance_changes, no_embarrassing_or_romantic,"
                " no_political, preferences, created_at) VALUES ('cameo_1', 'u1',"
                " 'rex_the_dog', 'character', 'Rex', 'only_me', false, false, false, false,"
                " '', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO characters (id, user_id, name, video_key, created_at) VALUES"
                " ('char_0123456789abcdef01234567', 'u1', 'Rex the Dog',"
                " 'characters/char_0123456789abcdef01234567/source.mp4', 1700000000),"
                " ('char_2', 'u1', 'R2', 'characters/char_2/source.mp4', 1700000001)"
            )
        )
    upgrade(engine)
    assert_schema_is_models(engine)
    assert "characters" not in inspect(engine).get_table_names()
    with transaction(session_factory(engine)) as session:
        rex = session.get(Cameo, "char_0123456789abcdef01234567")
        assert rex is not None
        assert (rex.owner_id, rex.kind, rex.display_name) == ("u1", "character", "Rex the Dog")
        assert rex.handle == "rex_the_dog_2"  # "rex_the_dog" was taken
        assert rex.take_key == "characters/char_0123456789abcdef01234567/source.mp4"
        assert (rex.access, rex.created_at, rex.deleted_at) == ("only_me", 1700000000, None)
        assert rex.verified_at is not None  # a character has nothing to verify: castable
        r2 = session.get(Cameo, "char_2")
        assert r2 is not None and r2.handle == "r2_char"  # padded to the 3 a handle needs


def test_sqlite_0011_makes_old_characters_cameos(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'reelforge.db'}")
    try:
        _old_character_becomes_a_cameo(engine)
    finally:
        engine.dispose()


@requires_pg
def test_pg_0011_makes_old_characters_cameos(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        _old_character_becomes_a_cameo(engine)
    finally:
        engine.dispose()
