"""Media storage in a directory on the local filesystem."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from reelforge.storage.base import StorageNotFound, check_key


def _mkstemp_beside(dest: Path) -> tuple[int, str]:
    """A new temp file in dest's directory (created if needed)."""
    # A concurrent delete() may remove the empty parent between mkdir and mkstemp: retry.
    for attempt in range(3):
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class LocalStorage:
    """Objects are files under `root`; key "video_abc/video.mp4" is `root/video_abc/video.mp4`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file a key maps to (whether or not it exists); ValueError for a bad key."""
        return self.root.joinpath(*check_key(key).split("/"))

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Copy `path` to `key` atomically: readers see the old object or the whole new one."""
        dest = self.path(key)
        fd, tmp_name = _mkstemp_beside(dest)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, Path(path).open("rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        path = self.path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StorageNotFound(f"no stored object {key!r}", param="key") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return  # missing, or a "directory" key, which is not an object
        # Remove parent directories left empty, never the root itself.
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone)
                break
            parent = parent.parent

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        check_key(key)
        return None
