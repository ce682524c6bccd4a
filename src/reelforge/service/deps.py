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
import logging
import random
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.db.keys import user_for_key
from reelforge.db.registry import DatabaseRegistry
from reelforge.db.session import is_stale_snapshot
from reelforge.deployment import Deployment
from reelforge.jobs.queue import JobQueue
from reelforge.service.errors import APIError
from reelforge.service.limits import RequestLimits, route_class
from reelforge.settings import Settings
from reelforge.storage import Storage

T = TypeVar("T")
log = logging.getLogger(__name__)
SNAPSHOT_ATTEMPTS = 5  # SQLite: another connection committed mid-transaction; run it again


@dataclass
class ServiceState:
    """What the routes work with: the server's deployment (settings, database sessions,
    storage, registry; its worker thread shares it), the rate limits and the job queue."""

    deployment: Deployment
    limiter: RequestLimits
    queue: JobQueue

    @property
    def settings(self) -> Settings:
        return self.deployment.settings

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.deployment.factory

    @property
    def storage(self) -> Storage:
        return self.deployment.storage

    @property
    def registry(self) -> DatabaseRegistry:
        return self.deployment.registry


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
    """`work` in a fresh session; on SQLite, again in a fresh one when its snapshot went stale
    (`is_stale_snapshot`: rolled back, nothing written) before it had committed anything,
    after a short jittered pause."""
    attempt = 1
    while True:
        db = factory()
        event.listen(db, "after_commit", _mark_committed)
        try:
            with db:
                return work(db)
        except OperationalError as error:
            again = is_stale_snapshot(error) and not db.info.get("committed")
            if not again or attempt == SNAPSHOT_ATTEMPTS:
                raise
            log.info("stale SQLite snapshot, attempt %d of %d", attempt, SNAPSHOT_ATTEMPTS)
            time.sleep(random.uniform(0, 0.01 * attempt))
            attempt += 1


def _mark_committed(db: Session) -> None:
    db.info["committed"] = True


def _caller(db: Session, key: str) -> Caller | None:
    user = user_for_key(db, key)
    return Caller(id=user.id, name=user.name) if user else None


# Declares the API key in the OpenAPI document, so /docs offers "Authorize" and
# schema-driven clients know to send it. It never refuses a request itself: `current_user`
# reads the header and answers a missing or bad key with the API's own errors.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (`reelforge keys create`), sent as `Authorization: Bearer <key>`.",
)
DeclaredKey = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


async def current_user(request: Request, service: StateDep, _key: DeclaredKey) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise APIError(
            401, "missing API key: send Authorization: Bearer <key>", code="missing_api_key"
        )
    user = await run_db(service, lambda db: _caller(db, key.strip()))
    if user is None:
        raise APIError(401, "invalid API key", code="invalid_api_key")
    await check_rate_limit(request, service, user.id)
    return user


async def check_rate_limit(request: Request, service: ServiceState, user_id: str) -> None:
    """Count this request against its route class's limit for `user_id` (service/
    limits.py): /v1 calls by API key, and the app's /api writes by cookie or key, share
    one budget per person. A 429 with Retry-After when over it."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    refusal = await run_in_threadpool(
        service.limiter.hit, route_class(request.method, template), user_id
    )
    if refusal is not None:
        raise APIError(
            429,
            f"rate limit of {refusal.per_minute} {refusal.route_class} requests per minute "
            f"per user reached; retry in {refusal.retry_after_s} s",
            code="rate_limit_exceeded",
            headers={"retry-after": str(refusal.retry_after_s)},
        )


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
