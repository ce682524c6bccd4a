"""A cameo's consent log: append-only and hash-chained, one chain per cameo.

Every entry names its cameo, its place in the chain (`seq`, from 1), when (Unix s), what
happened (`event`), who did it, the video concerned and a JSON detail. Its hash is

    hash = sha256(prev_hash + canonical JSON of the entry)

where `prev_hash` is the previous entry's hash (64 zeros for the first) and the canonical
JSON has sorted keys, no spaces and UTF-8 text. Changing, removing or reordering any row
breaks the chain at that row, which `verify_chain` reports (the owner's export carries the
hashes, so anyone can check it; `reelforge cameo audit HANDLE` does).

The chain shows that the stored rows were not edited one by one; an operator who rewrites
the whole chain from some point on is not caught by it alone (compare an exported copy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import Cameo, ConsentLogEntry, now_s

__all__ = ["EVENTS", "GENESIS", "append", "entries", "entry_hash", "export", "verify_chain"]

GENESIS = "0" * 64

EVENTS = frozenset(
    {
        "cast_allowed",
        "cast_blocked",
        "draft",
        "post",
        "remix",
        "download",
        "delete",
        "grant",
        "revoke",
        "setting",
        "verify",
        "approve",
        "video_removed",
        "report",
        "create",
    }
)


def _hashed_fields(entry: ConsentLogEntry) -> dict[str, Any]:
    return {
        "cameo_id": entry.cameo_id,
        "seq": entry.seq,
        "at": entry.at,
        "event": entry.event,
        "actor_id": entry.actor_id,
        "video_id": entry.video_id,
        "detail": json.loads(entry.detail_json),
    }


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, entry: ConsentLogEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(_hashed_fields(entry))).hexdigest()


def append(
    db: Session,
    cameo_id: str,
    event: str,
    *,
    actor_id: str | None = None,
    video_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> ConsentLogEntry:
    """Add the next entry of `cameo_id`'s chain to the session (the caller commits). The
    cameo's row is locked first (PostgreSQL), so two appends never take the same `seq`;
    SQLite serialises writers, and the unique (cameo_id, seq) index is the backstop."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {sorted(EVENTS)}, got {event!r}")
    db.execute(select(Cameo.id).where(Cameo.id == cameo_id).with_for_update())
    db.flush()
    last = db.scalars(
        select(ConsentLogEntry)
        .where(ConsentLogEntry.cameo_id == cameo_id)
        .order_by(ConsentLogEntry.seq.desc())
        .limit(1)
    ).first()
    entry = ConsentLogEntry(
        cameo_id=cameo_id,
        seq=last.seq + 1 if last else 1,
        at=now_s(),
        event=event,
        actor_id=actor_id,
        video_id=video_id,
        # Round-tripped so the hash is over exactly what will be read back.
        detail_json=json.dumps(detail or {}, sort_keys=True, ensure_ascii=False),
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    db.add(entry)
    db.flush()
    return entry


def entries(db: Session, cameo_id: str) -> list[ConsentLogEntry]:
    """The chain in order."""
    return list(
        db.scalars(
            select(ConsentLogEntry)
            .where(ConsentLogEntry.cameo_id == cameo_id)
            .order_by(ConsentLogEntry.seq)
        )
    )


def export(entry: ConsentLogEntry) -> dict[str, Any]:
    """An entry as the owner's JSON export shows it: the hashed fields and both hashes."""
    return {**_hashed_fields(entry), "prev_hash": entry.prev_hash, "hash": entry.hash}


def verify_chain(chain: Sequence[ConsentLogEntry]) -> list[str]:
    """The chain's problems, in order; empty when it is intact. Each names the entry."""
    problems: list[str] = []
    prev_hash = GENESIS
    for expected_seq, entry in enumerate(chain, start=1):
        where = f"entry {entry.seq}"
        if entry.seq != expected_seq:
            problems.append(f"{where}: expected seq {expected_seq} (an entry is missing)")
        if entry.prev_hash != prev_hash:
            problems.append(f"{where}: prev_hash does not match the previous entry's hash")
        try:
            recomputed = entry_hash(entry.prev_hash, entry)
        except ValueError:
            problems.append(f"{where}: detail is not valid JSON")
        else:
            if recomputed != entry.hash:
                problems.append(
                    f"{where}: contents changed (stored hash {entry.hash[:12]}…, "
                    f"recomputed {recomputed[:12]}…)"
                )
        prev_hash = entry.hash
    return problems
