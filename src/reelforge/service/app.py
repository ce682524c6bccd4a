"""The FastAPI application, and `serve` with its in-process worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge import __version__, outbox
from reelforge.db.session import make_engine, session_factory
from reelforge.deployment import Deployment
from reelforge.jobs.queue import JobQueue
from reelforge.jobs.worker import Worker
from reelforge.service import (
    characters,
    errors,
    live,
    metrics,
    models,
    provenance,
    videos,
    web_routes,
)
from reelforge.service.api import accounts, cameos, feed, keys, moderation, notifications, posts
from reelforge.service.deps import ServiceState
from reelforge.service.hardening import JsonGuard
from reelforge.service.idempotency import Idempotency
from reelforge.service.limits import RequestLimits
from reelforge.service.readiness import readiness
from reelforge.service.v1_schemas import request_schemas
from reelforge.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, run_worker: bool = True) -> FastAPI:
    deployment = Deployment(settings, factory=session_factory(make_engine(settings)))
    factory = deployment.factory
    queue = JobQueue(settings)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = None
        # Webhooks raised by requests (cameo owners') wait in the outbox; send them from here
        # too, so that a server without a worker still delivers them (outbox.py).
        outbox.start_sender(factory, settings, stop)
        if run_worker:
            worker = Worker(deployment, queue)
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
        docs_url=None,  # web_routes serves /docs from a local swagger-ui, never a CDN
        redoc_url=None,
    )
    app.state.reelforge = ServiceState(deployment, RequestLimits(settings), queue)
    app.add_middleware(Idempotency, factory=factory)  # after the guard: sound bodies only
    app.add_middleware(JsonGuard)  # inside the body limit: it reads bounded bodies only
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    metrics.install(app)  # outermost: request id, counts and times for every answer
    errors.install(app)
    app.include_router(provenance.router)
    app.include_router(characters.router)  # before /v1/videos/{video_id}
    app.include_router(videos.router)
    app.include_router(models.router)
    for router in (accounts, posts, feed, notifications, moderation, cameos, keys):
        app.include_router(router.router)
    live.install(app, factory, settings)
    web_routes.install(app)  # last: `/` and the static files

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the request bodies the /v1 routes read by hand (JSON
        or a form) declared through their models (v1_schemas.request_body)."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(request_schemas())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Database, queue and storage each answer (service/readiness.py); 503 naming the
        failing part otherwise."""
        return await readiness(app.state.reelforge)

    return app


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a request body over `max_bytes`: at once when Content-Length says so, and
    while reading a body sent without one (chunked) as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.envelope(
            413, f"request body is larger than {self.max_bytes} bytes", code="request_too_large"
        )
        await response(scope, receive, send)
