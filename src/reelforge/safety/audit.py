"""The audit log: every decision, allowed or blocked, with who, what, when and outcome.

`AuditRecord.from_decision` is the one place a decision becomes a record, so every log
(in memory, the SQLite file here, the server's database) stores the same fields.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from reelforge.safety.decision import Decision
from reelforge.safety.sqlite_file import SqliteFile

__all__ = ["AuditLog", "AuditRecord", "InMemoryAuditLog", "SqliteAuditLog"]


@dataclass(frozen=True)
class AuditRecord:
    decided_at: datetime  # when (UTC)
    requester: str  # who
    stage: str  # "request" or "clip"
    text: str  # what was checked (truncated to PolicyConfig.audit_text_chars)
    text_sha256: str  # of the whole checked text
    allowed: bool  # outcome
    category: str | None
    reason: str
    policy_version: str
    scores: dict[str, float] = field(default_factory=dict)
    matched: list[dict[str, Any]] = field(default_factory=list)  # Finding fields
    id: int | None = None  # assigned by the log

    @classmethod
    def from_decision(cls, decision: Decision) -> AuditRecord:
        return cls(
            decided_at=decision.decided_at,
            requester=decision.requester,
            stage=decision.stage,
            text=decision.checked_text,
            text_sha256=decision.checked_sha256,
            allowed=decision.allowed,
            category=decision.category,
            reason=decision.reason,
            policy_version=decision.policy_version,
            scores=dict(decision.scores),
            matched=[asdict(f) for f in decision.matched],
        )


class AuditLog(Protocol):
    def record(self, decision: Decision) -> None: ...


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def record(self, decision: Decision) -> None:
        with self._lock:
            record = AuditRecord.from_decision(decision)
            self.records.append(_with_id(record, len(self.records) + 1))


def _with_id(record: AuditRecord, record_id: int) -> AuditRecord:
    return AuditRecord(**{**asdict(record), "id": record_id})


class SqliteAuditLog:
    """Append-only audit records in a SQLite file."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS policy_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            decided_at TEXT NOT NULL,
            requester TEXT NOT NULL,
            stage TEXT NOT NULL,
            allowed INTEGER NOT NULL,
            category TEXT,
            reason TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            text TEXT NOT NULL,
            text_sha256 TEXT NOT NULL,
            scores TEXT NOT NULL,
            matched TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS policy_audit_requester ON policy_audit (requester, id);
    """
    _COLUMNS = (
        "id, decided_at, requester, stage, allowed, category, reason, policy_version, "
        "text, text_sha256, scores, matched"
    )

    def __init__(self, path: Path) -> None:
        self._db = SqliteFile(path, self._SCHEMA)

    def record(self, decision: Decision) -> None:
        r = AuditRecord.from_decision(decision)
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO policy_audit (decided_at, requester, stage, allowed, category, "
                "reason, policy_version, text, text_sha256, scores, matched) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.decided_at.isoformat(),
                    r.requester,
                    r.stage,
                    int(r.allowed),
                    r.category,
                    r.reason,
                    r.policy_version,
                    r.text,
                    r.text_sha256,
                    json.dumps(r.scores, sort_keys=True),
                    json.dumps(r.matched),
                ),
            )

    def records(self, *, requester: str | None = None, limit: int = 100) -> list[AuditRecord]:
        """The newest `limit` records (of `requester`, if given), oldest first."""
        where, args = ("WHERE requester = ?", [requester]) if requester is not None else ("", [])
        with self._db.reading() as db:
            rows = db.execute(
                f"SELECT {self._COLUMNS} FROM policy_audit {where} ORDER BY id DESC LIMIT ?",
                [*args, limit],
            ).fetchall()
        return [
            AuditRecord(
                id=row[0],
                decided_at=datetime.fromisoformat(row[1]),
                requester=row[2],
                stage=row[3],
                allowed=bool(row[4]),
                category=row[5],
                reason=row[6],
                policy_version=row[7],
                text=row[8],
                text_sha256=row[9],
                scores=json.loads(row[10]),
                matched=json.loads(row[11]),
            )
            for row in reversed(rows)
        ]

    def close(self) -> None:
        self._db.close()
