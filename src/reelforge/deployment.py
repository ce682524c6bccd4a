"""What one entry point works with, built once and handed down.

The CLI, the server, a job worker and an eval run each build one `Deployment` from their
settings and pass it to what they call (`pipeline.generate(deployment=...)`): it holds the
settings and, built on first use and kept for its lifetime, the database's session
factory, the content-policy engine with its stores in that database, the provenance
registry and the media storage (local folder or S3). Nothing below an entry point reads
the environment for these or keeps them in a module-level cache; two deployments in one
process (a test's, a benchmark's) never share them. What a process keeps for all its
deployments is only what it loads from read-only files (the sentence encoders, the
policy's word lists, the asset catalogue), in one place: shipped.py.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from reelforge.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from reelforge.db.registry import DatabaseRegistry
    from reelforge.safety import PolicyEngine
    from reelforge.storage import Storage

__all__ = ["Deployment"]


class Deployment:
    def __init__(
        self,
        settings: Settings,
        *,
        factory: sessionmaker[Session] | None = None,
        storage: Storage | None = None,
    ):
        """`factory`, `storage`: when the entry point (or a test) has made them already."""
        self.settings = settings
        if factory is not None:
            self.factory = factory
        if storage is not None:
            self.storage = storage

    @classmethod
    def from_environment(cls) -> Deployment:
        """The deployment the REELFORGE_* environment describes (a bad value is a
        ConfigError naming the variable)."""
        return cls(load_settings())

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        """Sessions on the configured database, migrated to the newest schema."""
        from reelforge.db.session import make_engine, session_factory

        return session_factory(make_engine(self.settings))

    @cached_property
    def policy(self) -> PolicyEngine:
        """The content policy: thresholds and moderation endpoint from the settings; rights,
        cameo consent and the audit log in the database."""
        from reelforge.db.policy import policy_engine

        return policy_engine(self.settings, self.factory)

    @cached_property
    def registry(self) -> DatabaseRegistry:
        """Watermark payload → clip, in the database."""
        from reelforge.db.registry import DatabaseRegistry

        return DatabaseRegistry(self.factory)

    @cached_property
    def storage(self) -> Storage:
        """Where the videos and uploads are kept: the data folder, or S3."""
        from reelforge.storage import storage_from_settings

        return storage_from_settings(self.settings)
