"""The FastAPI application, and `serve` with its in-process worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from reelforge import __version__
from reelforge.db.session import make_engine, session_factory
from reelforge.jobs.queue import JobQueue
from reelforge.jobs.worker import Worker
from reelforge.service import characters, errors, videos
from reelforge.service.deps import RateLimiter, ServiceState
from reelforge.settings import Settings
from reelforge.storage import storage_from_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, run_worker: bool = True) -> FastAPI:
    engine = make_engine(settings)
    factory = session_factory(engine)
    storage = storage_from_settings(settings)
    queue = JobQueue(settings)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = None
        if run_worker:
            worker = Worker(settings, factory, storage, queue)
            thread = threading.Thread(
                target=worker.run, args=(stop,), name="reelforge-worker", daemon=True
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=30)

    app = FastAPI(
        title="reelforge",
        version=__version__,
        lifespan=lifespan,
        description="OpenAI-compatible Videos API for self-hosted video generation.",
    )
    app.state.reelforge = ServiceState(
        settings, factory, storage, RateLimiter(settings.rate_limit_per_minute), queue
    )
    max_bytes = settings.max_request_bytes

    @app.middleware("http")
    async def body_limit(request: Request, call_next: RequestResponseEndpoint) -> Response:
        """413 before reading a body larger than the configured limit."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            return errors.envelope(
                413, f"request body is larger than {max_bytes} bytes", code="request_too_large"
            )
        return await call_next(request)

    errors.install(app)
    app.include_router(characters.router)  # before /v1/videos/{video_id}
    app.include_router(videos.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
