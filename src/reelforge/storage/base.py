"""What every storage backend shares: the not-found error and the rules for keys."""

from __future__ import annotations

from reelforge.errors import ReelforgeError


class StorageNotFound(ReelforgeError):
    """No object is stored under the key."""

    status = 404
    type = "invalid_request_error"
    exit_code = 2


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key like "video_abc/video.mp4", else ValueError.

    Rejected: empty keys, absolute paths, backslashes, NUL characters, and empty, "." or ".."
    segments (so "a//b", "a/./b" and "../x" all fail).
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"storage key must be a non-empty string, got {key!r}")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative, got {key!r}")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must not contain backslashes or NUL, got {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"storage key has an empty, '.' or '..' segment: {key!r}")
    return key
