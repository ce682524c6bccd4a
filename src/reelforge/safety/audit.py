"""The audit log: every decision, allowed or blocked, with who, what, when and outcome.

`AuditRecord.from_decision` is the one place a decision becomes a record, so every log
(in memory here, the service's database in reelforge.db.policy) stores the same fields.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reelforge.safety.decision import Decision

__all__ = ["AuditLog", "AuditRecord", "InMemoryAuditLog"]


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
