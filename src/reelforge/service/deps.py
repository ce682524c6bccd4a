"""Shared dependencies: the service state, database work and the caller's user.

Database work never spans a thread hop. FastAPI runs sync dependencies and sync routes in
a pool of 40 threads; a session opened in one hop and used in the next holds a pooled
connection while it waits for a thread, and under load every thread ends up waiting for a
connection held by a request that is waiting for a thread (observed: a 30 s stall, then
500s, at 56 concurrent requests). So routes are async, and each piece of database work is
one function run by `run_db` in one worker thread, which takes a connection, commits and
gives it back before it returns. A thread then only ever waits for a connection held by
another running thread, and waiting is bounded.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.keys import user_for_key
from reelforge.jobs.queue import JobQueue
from reelforge.service.errors import APIError
from reelforge.settings import Settings
from reelforge.storage import Storage

T = TypeVar("T")


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


@dataclass(frozen=True)
class Caller:
    """The user an API key belongs to."""

    id: str
    name: str


async def state(request: Request) -> ServiceState:
    service: ServiceState = request.app.state.reelforge
    return service


StateDep = Annotated[ServiceState, Depends(state)]


async def run_db(service: ServiceState, work: Callable[[Session], T]) -> T:
    """`work(session)` in one worker thread; the session is closed before this returns."""
    return await run_in_threadpool(_in_session, service.factory, work)


def _in_session(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    with factory() as db:
        return work(db)


def _caller(db: Session, key: str) -> Caller | None:
    user = user_for_key(db, key)
    return Caller(id=user.id, name=user.name) if user else None


async def current_user(request: Request, service: StateDep) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise APIError(
            401, "missing API key: send Authorization: Bearer <key>", code="missing_api_key"
        )
    user = await run_db(service, lambda db: _caller(db, key.strip()))
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


UserDep = Annotated[Caller, Depends(current_user)]


@contextlib.asynccontextmanager
async def upload_on_disk(upload: UploadFile) -> AsyncIterator[Path]:
    """The uploaded file as a path (for PyAV, c2pa, storage), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="reelforge-upload-") as tmp:
        path = Path(tmp) / "upload"
        with path.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        yield path
