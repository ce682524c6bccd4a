"""The provenance registry (`reelforge.provenance.registry`) as the `watermarks` table of
the service's database, shared by the CLI, the workers and the server."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from reelforge.db.models import Watermark
from reelforge.provenance.registry import RegistryEntry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


__all__ = ["DatabaseRegistry"]


class DatabaseRegistry:
    """The registry as the `watermarks` table."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def record(self, entry: RegistryEntry) -> None:
        fields = {k: v for k, v in asdict(entry).items() if v is not None}
        with self.factory() as session, session.begin():
            session.merge(Watermark(**fields))

    def lookup(self, payload: str) -> RegistryEntry | None:
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
