"""Prometheus `/metrics`, and the request id every log line of a request carries.

What it serves:
- reelforge_http_requests_total{method, route, status} and
  reelforge_http_request_duration_seconds{method, route}: by route template
  (`/v1/videos/{video_id}`), never the raw path, so ids do not become label values;
- reelforge_videos{status}: the queue's depth per video status, one GROUP BY at scrape;
- reelforge_worker_leases{worker} and reelforge_job_heartbeat_age_seconds_max: running
  jobs per worker and the oldest heartbeat among them (a stuck worker shows as age);
- reelforge_webhook_backlog: undelivered rows of `webhook_outbox` (neither delivered nor
  given up), read only when that table exists;
- reelforge_job_duration_seconds: observed by the workers (telemetry.py); with several
  processes on a host, PROMETHEUS_MULTIPROC_DIR makes this sum over all of them.

Who may read it: with REELFORGE_METRICS_TOKEN set, a caller sending
`Authorization: Bearer <token>`; without it, only clients on this host (loopback), so a
server bound to a public address does not publish its numbers by default.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge import logs, telemetry  # noqa: F401 (telemetry registers the job histogram)
from reelforge.db.models import Video
from reelforge.service import errors
from reelforge.service.deps import ServiceState, run_db

access_log = logging.getLogger("reelforge.access")

REQUESTS = Counter(
    "reelforge_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "reelforge_http_request_duration_seconds",
    "Seconds from a request's arrival to its answer's start, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestTelemetry:
    """Outermost middleware: takes the caller's `x-request-id` (or makes one), sets it for
    the request's log lines, echoes it in the answer, and counts and times the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # The caller's id only when it is short and plain, as it lands in log lines.
        rid = sent if 0 < len(sent) <= 128 and sent.isprintable() else uuid.uuid4().hex
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                self._observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(seconds)
        access_log.info("%s %s %d %.1f ms", method, route, status, seconds * 1000)


@dataclass(frozen=True)
class _Snapshot:
    """The database's numbers at one scrape: a few aggregates over indexed columns."""

    by_status: dict[str, int]
    leases: dict[str, int]  # worker id → jobs in progress
    heartbeat_age_s: float
    webhook_backlog: int | None  # None: no webhook_outbox table (an older schema)


class _DatabaseGauges(Collector):
    def __init__(self, snapshot: _Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        videos = GaugeMetricFamily("reelforge_videos", "Videos per status.", labels=["status"])
        for status, count in sorted(self.snapshot.by_status.items()):
            videos.add_metric([status], count)
        yield videos
        leases = GaugeMetricFamily(
            "reelforge_worker_leases", "Jobs in progress per worker.", labels=["worker"]
        )
        for worker, count in sorted(self.snapshot.leases.items()):
            leases.add_metric([worker], count)
        yield leases
        yield GaugeMetricFamily(
            "reelforge_job_heartbeat_age_seconds_max",
            "Seconds since the oldest heartbeat among jobs in progress (0: none running).",
            value=self.snapshot.heartbeat_age_s,
        )
        backlog = self.snapshot.webhook_backlog
        if backlog is not None:
            yield GaugeMetricFamily(
                "reelforge_webhook_backlog",
                "Webhook events neither delivered nor given up (webhook_outbox).",
                value=float(backlog),
            )


def _snapshot(db: Session) -> _Snapshot:
    by_status = dict(db.execute(select(Video.status, func.count()).group_by(Video.status)).all())
    running = Video.status == "in_progress"
    leases = dict(
        db.execute(
            select(func.coalesce(Video.worker_id, "unknown"), func.count())
            .where(running)
            .group_by(Video.worker_id)
        ).all()
    )
    oldest = db.scalar(select(func.min(Video.heartbeat_at)).where(running))
    backlog = None
    if inspect(db.get_bind()).has_table("webhook_outbox"):
        backlog = db.scalar(
            text(
                "SELECT count(*) FROM webhook_outbox "
                "WHERE delivered_at IS NULL AND failed_at IS NULL"
            )
        )
    return _Snapshot(
        by_status={str(status): int(n) for status, n in by_status.items()},
        leases={str(worker): int(n) for worker, n in leases.items()},
        heartbeat_age_s=max(0.0, time.time() - oldest) if oldest else 0.0,
        webhook_backlog=None if backlog is None else int(backlog),
    )


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _allowed(request: Request, token: str | None) -> bool:
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip(), token)
    host = request.client.host if request.client else ""
    return host in ("127.0.0.1", "::1", "localhost", "testclient")


def install(app: FastAPI) -> None:
    app.add_middleware(RequestTelemetry)  # last added: outermost, sees every answer

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        service: ServiceState = request.app.state.reelforge
        secret = service.settings.metrics_token
        if not _allowed(request, secret.get_secret_value() if secret else None):
            return errors.envelope(
                403,
                "metrics are for this host, or callers with REELFORGE_METRICS_TOKEN",
                code="forbidden",
            )
        snapshot = await run_db(service, _snapshot)
        registry = CollectorRegistry()
        for collector in _collectors(_registry(), _DatabaseGauges(snapshot)):
            registry.register(collector)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _collectors(process: CollectorRegistry, database: Collector) -> Iterable[Collector]:
    yield _Proxy(process)
    yield database


class _Proxy(Collector):
    """The process (or multiprocess) registry's metrics, inside the per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
