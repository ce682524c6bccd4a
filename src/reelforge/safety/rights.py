"""The rights registry: rights holders register protected names (characters, brands,
works, artists) and license them to others. Opt-in: a name nobody registered is free to
use; a registered one is blocked unless the requester is its holder or holds a licence.

Names are matched on normalised text (so "M1ck3y M0use" is still Mickey Mouse) by a
`RightsIndex`, which every implementation of `RightsRegistry` shares: the in-memory
registry here, and the service's database-backed one (reelforge.db.policy).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from reelforge.errors import InvalidRequest
from reelforge.safety.lexicon import Phrase, PhraseIndex
from reelforge.safety.normalize import NormalizedText, Normalizer

__all__ = [
    "RIGHTS_KINDS",
    "InMemoryRightsRegistry",
    "RightsEntry",
    "RightsIndex",
    "RightsRegistry",
]

RIGHTS_KINDS = ("character", "brand", "work", "artist", "name")


@dataclass(frozen=True)
class RightsEntry:
    holder: str
    name: str  # as registered, shown to users ("Mickey Mouse")
    kind: str  # one of RIGHTS_KINDS
    aliases: tuple[str, ...] = ()
    cased: bool = False  # match only when written with capitals ("Apple" the brand)


class RightsRegistry(Protocol):
    def register(
        self,
        holder: str,
        name: str,
        *,
        kind: str,
        aliases: Sequence[str] = (),
        cased: bool = False,
    ) -> RightsEntry: ...

    def grant_licence(self, holder: str, licensee: str, name: str) -> None: ...

    def holds_licence(self, requester: str, name: str) -> bool:
        """Is `requester` the holder of the registered `name`, or licensed by them?"""
        ...

    def match(self, text: NormalizedText) -> list[RightsEntry]:
        """Registered entries named in `text`, each once."""
        ...


def _default_normalizer() -> Normalizer:
    from reelforge.safety.resources import text_tools

    return text_tools().normalizer


class RightsIndex:
    """Finds registered names and aliases in normalised text."""

    def __init__(self, entries: Iterable[RightsEntry], normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        phrases = [
            Phrase(normalizer.normalize(name).words, entry, entry.cased)
            for entry in entries
            for name in (entry.name, *entry.aliases)
        ]
        self._index = PhraseIndex(phrases, is_known=normalizer.is_known, fuzzy=True)

    def key(self, name: str) -> str:
        """The form names are compared in: "Mickey  MOUSE!" and "mickey mouse" are one."""
        return self.normalizer.normalize(name).clean

    def match(self, text: NormalizedText) -> list[RightsEntry]:
        found: dict[str, RightsEntry] = {}
        for hit in self._index.find(text):
            found.setdefault(self.key(hit.payload.name), hit.payload)
        return list(found.values())


def _check_entry(name: str, kind: str, key: str) -> None:
    if kind not in RIGHTS_KINDS:
        raise InvalidRequest(
            f"kind must be one of {', '.join(RIGHTS_KINDS)}, got {kind!r}", param="kind"
        )
    if not key:
        raise InvalidRequest(f"name must contain letters or digits, got {name!r}", param="name")


class InMemoryRightsRegistry:
    def __init__(self, normalizer: Normalizer | None = None) -> None:
        self._normalizer = normalizer or _default_normalizer()
        self._entries: dict[str, RightsEntry] = {}  # by key
        self._licences: set[tuple[str, str]] = set()  # (key, licensee)
        self._index = RightsIndex((), self._normalizer)
        self._lock = threading.Lock()

    def register(
        self,
        holder: str,
        name: str,
        *,
        kind: str,
        aliases: Sequence[str] = (),
        cased: bool = False,
    ) -> RightsEntry:
        entry = RightsEntry(holder, name, kind, tuple(aliases), cased)
        with self._lock:
            key = self._index.key(name)
            _check_entry(name, kind, key)
            existing = self._entries.get(key)
            if existing is not None and existing.holder != holder:
                raise InvalidRequest(
                    f"{name!r} is already registered by another holder", param="name"
                )
            self._entries[key] = entry
            self._index = RightsIndex(self._entries.values(), self._normalizer)
        return entry

    def grant_licence(self, holder: str, licensee: str, name: str) -> None:
        with self._lock:
            key = self._index.key(name)
            entry = self._entries.get(key)
            if entry is None or entry.holder != holder:
                raise InvalidRequest(f"{holder!r} has not registered {name!r}", param="name")
            self._licences.add((key, licensee))

    def holds_licence(self, requester: str, name: str) -> bool:
        with self._lock:
            key = self._index.key(name)
            entry = self._entries.get(key)
            return entry is not None and (
                entry.holder == requester or (key, requester) in self._licences
            )

    def match(self, text: NormalizedText) -> list[RightsEntry]:
        with self._lock:
            index = self._index
        return index.match(text)
