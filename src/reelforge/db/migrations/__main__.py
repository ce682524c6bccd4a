"""Maintainer commands:

    python -m reelforge.db.migrations revision "message"   # autogenerate the next revision
    python -m reelforge.db.migrations check                # models and revisions agree?
    python -m reelforge.db.migrations heads

Both compare the models with a scratch SQLite database upgraded to head.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from reelforge.db.migrations import config, upgrade


def next_rev_id(cfg: Config) -> str:
    numbers = [
        int(rev.revision)
        for rev in ScriptDirectory.from_config(cfg).walk_revisions()
        if re.fullmatch(r"\d+", rev.revision)
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def _ruff_hooks(cfg: Config) -> None:
    """Format and lint-fix a new revision with the ruff next to this Python, if any."""
    ruff = Path(sys.executable).with_name("ruff")
    executable = str(ruff) if ruff.exists() else shutil.which("ruff")
    if not executable:
        return
    cfg.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for name, options in (
        ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
        ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
    ):
        cfg.set_section_option("post_write_hooks", f"{name}.type", "exec")
        cfg.set_section_option("post_write_hooks", f"{name}.executable", executable)
        cfg.set_section_option("post_write_hooks", f"{name}.options", options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reelforge.db.migrations")
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="autogenerate the next revision from the models")
    revision.add_argument("message")
    revision.add_argument("--empty", action="store_true", help="no autogenerate: a blank one")
    sub.add_parser("check", help="fail if the models differ from the revisions at head")
    sub.add_parser("heads", help="show the head revision(s)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="reelforge-migrations-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        engine = create_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        cfg = config(url)
        if args.command == "revision":
            _ruff_hooks(cfg)
            command.revision(
                cfg,
                message=args.message,
                autogenerate=not args.empty,
                rev_id=next_rev_id(cfg),
            )
        elif args.command == "check":
            command.check(cfg)
        else:
            command.heads(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
