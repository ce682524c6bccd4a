"""What a process loads once from read-only files and keeps: the sentence encoders, the
policy's text tools, the asset catalogue and its matcher, the dit's loaded weights.

Everything an entry point configures (settings, the database, the policy engine, the
registry, storage) is built per deployment (deployment.py) and handed down. What is kept
here is the same for every deployment in the process: each value is built only from the
files its key names (and the plain values in the key), never from settings or the
environment, and nobody changes it once built. This module is the only place that keeps
such values; `loaded()` lists them and `forget()` drops them (a test that rewrites a file).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

__all__ = ["forget", "loaded", "shared"]

T = TypeVar("T")

_values: dict[tuple[str, Hashable], object] = {}
_building: dict[tuple[str, Hashable], threading.Lock] = {}
_guard = threading.Lock()


def shared(kind: str, key: Hashable, build: Callable[[], T]) -> T:
    """The `kind` value for `key` (a path or None, or a tuple of paths and plain values), made by
    `build` on the first call. Threads asking at once wait for one build; a build that
    raises keeps nothing, and the next call tries again. A build may ask for other values
    (the asset matcher asks for the catalogue), never for its own."""
    entry = (kind, key)
    with _guard:
        if entry in _values:
            return cast(T, _values[entry])
        lock = _building.setdefault(entry, threading.Lock())
    with lock:
        with _guard:
            if entry in _values:
                return cast(T, _values[entry])
        value = build()
        with _guard:
            _values[entry] = value
            _building.pop(entry, None)
        return value


def loaded() -> list[tuple[str, Hashable]]:
    """(kind, key) of every value this process holds, in the order they were built."""
    with _guard:
        return list(_values)


def forget() -> None:
    """Drop every value; the next ask builds it again from its files."""
    with _guard:
        _values.clear()
