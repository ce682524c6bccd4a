"""Schema migrations (Alembic), configured in code: no alembic.ini.

`upgrade(engine)` brings a database to the newest revision; `make_engine` calls it, so every
entry point (server, worker, CLI) starts on the current schema. Two processes starting at once
are serialized: PostgreSQL by a transaction-level advisory lock, SQLite by an fcntl lock on a
file next to the database.

A new revision after changing `reelforge.db.models`:

    .venv/bin/python -m reelforge.db.migrations revision "add videos.foo"

autogenerates `versions/NNNN_add_videos_foo.py` against a scratch SQLite database at head.
Read it before committing: autogenerate misses renames and server defaults.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from reelforge.db.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent
# The schema that `Base.metadata.create_all` made before there were migrations.
BASELINE = "0001"
# pg_advisory_xact_lock key: any constant 64-bit integer, the same in every process.
PG_LOCK_KEY = 0x7265656C666F7267  # "reelforg"


def config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config for this package. The URL and connection go in `attributes`, not
    in the ini options, so a password with `%` in it survives (no interpolation)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.attributes["url"] = (
            url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        )
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate `engine`'s database to `revision` (default: the newest), holding a lock so
    that concurrent callers run one after the other; the later ones find nothing to do.

    A database already at the newest revision costs one query and no Alembic import
    (importing Alembic takes ~0.4 s, which `reelforge generate` would otherwise pay)."""
    if revision == "head" and _stamped(engine) == head_revision():
        return
    from alembic import command

    with _file_lock(engine), engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite migrations rebuild tables (batch mode); with foreign keys on, dropping a
            # referenced table would fail or cascade. The pragma is a no-op inside a
            # transaction, so it is set before one starts, and restored after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Held until this transaction ends; PostgreSQL DDL is transactional,
                    # so the whole migration commits (or not) under the lock.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY}
                    )
                cfg = config(engine.url, connection)
                _adopt_unversioned(cfg, connection)
                command.upgrade(cfg, revision)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision, from the file names: revisions are linear and named
    `NNNN_slug.py` with revision id NNNN (a test checks this agrees with Alembic)."""
    return max(path.name.split("_", 1)[0] for path in (HERE / "versions").glob("[0-9]*_*.py"))


def _stamped(engine: Engine) -> str | None:
    """The revision stamped in the database, or None (no table yet, or unreadable)."""
    try:
        with engine.connect() as connection:
            value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    return str(value) if value is not None else None


def _adopt_unversioned(cfg: Config, connection: Connection) -> None:
    """A database made by `create_all` (before migrations) has tables but no
    `alembic_version`: stamp it with the revision its schema is, so upgrading does not try
    to create the tables again. Schema equal to the models: head; otherwise the baseline."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or "users" not in tables:
        return
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    current = not compare_metadata(context, Base.metadata)
    command.stamp(cfg, "head" if current else BASELINE)


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """SQLite: an exclusive fcntl lock on `<database>.migrate.lock`. Others: nothing (the
    database's own lock is taken in `upgrade`)."""
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or "mode=memory" in str(engine.url.query)
    ):
        yield
        return
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
