"""Cameo consent, as the policy sees it: may this requester show this public figure?

A public figure on the list may appear in a video only when they own a cameo and that
cameo allows the requester. Cameos live in `social/` and the database; the policy only
asks `ConsentLookup.allows`. `EVERYONE` as the requester means the cameo is open to all.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["EVERYONE", "ConsentLookup", "InMemoryConsent"]

EVERYONE = "*"


class ConsentLookup(Protocol):
    def allows(self, person_key: str, requester: str) -> bool:
        """Does the public figure `person_key` own a cameo that allows `requester`?"""
        ...


class InMemoryConsent:
    def __init__(self) -> None:
        self._grants: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def grant(self, person_key: str, requester: str) -> None:
        with self._lock:
            self._grants.add((person_key, requester))

    def revoke(self, person_key: str, requester: str) -> None:
        with self._lock:
            self._grants.discard((person_key, requester))

    def allows(self, person_key: str, requester: str) -> bool:
        with self._lock:
            return (person_key, requester) in self._grants or (
                person_key,
                EVERYONE,
            ) in self._grants
