"""Media storage behind one interface: a local directory or an S3 bucket.

`storage_from_settings` picks the backend from `REELFORGE_STORAGE_URL`: unset means
`data_dir/media`; "s3://bucket/optional/prefix" means S3 (endpoint `REELFORGE_S3_ENDPOINT_URL`,
region `REELFORGE_S3_REGION`, credentials from the standard AWS environment variables).
Keys are relative, "/"-separated paths like "video_abc/video.mp4".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from reelforge.errors import ConfigError
from reelforge.storage.base import StorageNotFound, check_key
from reelforge.storage.local import LocalStorage

if TYPE_CHECKING:
    from reelforge.settings import Settings
    from reelforge.storage.s3 import S3Storage

__all__ = [
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageNotFound",
    "check_key",
    "storage_from_settings",
]


@runtime_checkable
class Storage(Protocol):
    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the finished file at `path` under `key`, replacing any object there."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; StorageNotFound if missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""
        ...

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        """A URL anyone can GET for `expires_s` seconds, or None if the backend has none."""
        ...


def storage_from_settings(settings: Settings) -> Storage:
    url = (settings.storage_url or "").strip()
    if not url:
        return LocalStorage(Path(settings.data_dir) / "media")
    if not url.startswith("s3://"):
        raise ConfigError(
            f"REELFORGE_STORAGE_URL: expected unset or s3://bucket[/prefix], got {url!r}",
            param="REELFORGE_STORAGE_URL",
        )
    from reelforge.storage.s3 import S3Storage, parse_s3_url

    bucket, prefix = parse_s3_url(url)
    return S3Storage(
        bucket, prefix, endpoint_url=settings.s3_endpoint_url or None, region=settings.s3_region
    )


def __getattr__(name: str) -> object:
    # S3Storage imports boto3 lazily, so a local-only install never pays for it.
    if name == "S3Storage":
        from reelforge.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(name)
