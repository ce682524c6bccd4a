"""The provenance registry: watermark payload → the clip that carries it.

Every generated clip gets a fresh random 64-bit payload; its row says which video, which
creator, which engine, the SHA-256 of the signed file and of the prompt (not the prompt
itself), and the parent of a remix. `verify` reads the payload from the pixels or the
audio of any copy, even one re-encoded with its manifest stripped, and looks it up here.

It lives in the service's database (SQLite in the data directory by default, PostgreSQL
when configured), so the CLI, the workers and the server share one registry: that
implementation is `reelforge.db.registry.DatabaseRegistry`; this module holds what every
registry is (the Protocol) and what it stores.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RegistryEntry:
    payload: str  # 16 hex digits
    engine: str
    prompt_sha256: str
    file_sha256: str
    video_id: str | None = None
    creator: str | None = None
    manifest_label: str | None = None
    parent_video_id: str | None = None
    created_at: int | None = None


class Registry(Protocol):
    def record(self, entry: RegistryEntry) -> None: ...

    def lookup(self, payload: str) -> RegistryEntry | None: ...


def new_payload() -> int:
    """A fresh random payload (never 0, which an all-zero decode could fake)."""
    while True:
        payload = secrets.randbits(64)
        if payload:
            return payload
