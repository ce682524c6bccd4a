"""Cameo consent, as the policy sees it: may this requester show this public figure?

A public figure on the list may appear in a video only when they own a cameo and that
cameo allows the requester. Cameos live in `social/` and the database; the policy only
asks `ConsentLookup.allows`. `EVERYONE` as the requester means the cameo is open to all.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from reelforge.safety.sqlite_file import SqliteFile

__all__ = ["EVERYONE", "ConsentLookup", "InMemoryConsent", "SqliteConsent"]

EVERYONE = "*"


class ConsentLookup(Protocol):
    def allows(self, person_key: str, requester: str) -> bool:
        """Does the public figure `person_key` own a cameo that allows `requester`?"""
        ...


class InMemoryConsent:
    def __init__(self) -> None:
        self._grants: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def grant(self, person_key: str, requester: str) -> None:
        with self._lock:
            self._grants.add((person_key, requester))

    def revoke(self, person_key: str, requester: str) -> None:
        with self._lock:
            self._grants.discard((person_key, requester))

    def allows(self, person_key: str, requester: str) -> bool:
        with self._lock:
            return (person_key, requester) in self._grants or (
                person_key,
                EVERYONE,
            ) in self._grants


class SqliteConsent:
    """Consent grants in a SQLite file (the CLI's data dir)."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS cameo_consent (
            person_key TEXT NOT NULL,
            requester TEXT NOT NULL,
            granted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (person_key, requester)
        );
    """

    def __init__(self, path: Path) -> None:
        self._db = SqliteFile(path, self._SCHEMA)

    def grant(self, person_key: str, requester: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO cameo_consent (person_key, requester) VALUES (?, ?)",
                (person_key, requester),
            )

    def revoke(self, person_key: str, requester: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "DELETE FROM cameo_consent WHERE person_key = ? AND requester = ?",
                (person_key, requester),
            )

    def allows(self, person_key: str, requester: str) -> bool:
        with self._db.reading() as db:
            row = db.execute(
                "SELECT 1 FROM cameo_consent WHERE person_key = ? AND requester IN (?, ?)",
                (person_key, requester, EVERYONE),
            ).fetchone()
        return row is not None

    def close(self) -> None:
        self._db.close()
