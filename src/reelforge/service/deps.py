"""Shared dependencies: the service state, database sessions and the caller's user."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.keys import user_for_key
from reelforge.db.models import User
from reelforge.jobs.queue import JobQueue
from reelforge.service.errors import APIError
from reelforge.settings import Settings
from reelforge.storage import Storage


@dataclass
class RateLimiter:
    """A token bucket per API key: `per_minute` requests, refilled continuously."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str) -> float:
        """0 if the request may go ahead, else seconds to wait."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) * 60 / self.per_minute
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0


@dataclass
class ServiceState:
    settings: Settings
    factory: sessionmaker[Session]
    storage: Storage
    limiter: RateLimiter
    queue: JobQueue


def state(request: Request) -> ServiceState:
    return request.app.state.reelforge


def session(request: Request) -> Iterator[Session]:
    with state(request).factory() as db:
        yield db


StateDep = Annotated[ServiceState, Depends(state)]
SessionDep = Annotated[Session, Depends(session)]


def current_user(request: Request, db: SessionDep, service: StateDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise APIError(
            401, "missing API key: send Authorization: Bearer <key>", code="missing_api_key"
        )
    user = user_for_key(db, key.strip())
    if user is None:
        raise APIError(401, "invalid API key", code="invalid_api_key")
    wait_s = service.limiter.allow(user.id)
    if wait_s > 0:
        raise APIError(
            429,
            f"rate limit of {service.limiter.per_minute} requests per minute "
            f"reached; retry in {wait_s:.1f} s",
            code="rate_limit_exceeded",
            headers={"retry-after": str(max(1, round(wait_s)))},
        )
    return user


UserDep = Annotated[User, Depends(current_user)]
