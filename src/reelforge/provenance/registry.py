"""The provenance registry: watermark payload → the clip that carries it.

Every generated clip gets a fresh random 64-bit payload; its row says which video, which
creator, which engine, the SHA-256 of the signed file and of the prompt (not the prompt
itself), and the parent of a remix. `verify` reads the payload from the pixels or the
audio of any copy, even one re-encoded with its manifest stripped, and looks it up here.

It lives in the service's database (SQLite in the data directory by default, PostgreSQL
when configured), so the CLI, the workers and the server share one registry.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from reelforge.settings import Settings


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


class DatabaseRegistry:
    """The registry as the `watermarks` table."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def record(self, entry: RegistryEntry) -> None:
        from reelforge.db.models import Watermark

        fields = {k: v for k, v in asdict(entry).items() if v is not None}
        with self.factory() as session, session.begin():
            session.merge(Watermark(**fields))

    def lookup(self, payload: str) -> RegistryEntry | None:
        from reelforge.db.models import Watermark

        with self.factory() as session:
            row = session.get(Watermark, payload.lower())
            if row is None:
                return None
            return RegistryEntry(
                payload=row.payload,
                engine=row.engine,
                prompt_sha256=row.prompt_sha256,
                file_sha256=row.file_sha256,
                video_id=row.video_id,
                creator=row.creator,
                manifest_label=row.manifest_label,
                parent_video_id=row.parent_video_id,
                created_at=row.created_at,
            )


def registry_from_settings(settings: Settings) -> DatabaseRegistry:
    """The registry in the configured database (migrated to the newest schema)."""
    from reelforge.db.session import shared_factory

    return DatabaseRegistry(shared_factory(settings))
