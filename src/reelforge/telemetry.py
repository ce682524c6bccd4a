"""What operators read: log lines (plain, or one JSON object each) that carry the
request's and the job's id, and the job durations /metrics serves.

The ids travel in context variables: the service's RequestId middleware sets
`request_id` for everything a request does (run_db's threads copy the context), the job
worker sets `job_id` while it runs a job (`job_telemetry`). A logging filter copies both
onto every record, so any formatter can print them.

Job durations are observed where the job runs, which may be a `reelforge worker` process
that serves no HTTP. With several processes on one host, set PROMETHEUS_MULTIPROC_DIR
(an empty folder, the same for all of them): prometheus_client then keeps each
process's values in files there, and /metrics adds them up (service/metrics.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from prometheus_client import Histogram

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

JOB_SECONDS = Histogram(
    "reelforge_job_duration_seconds",
    "Seconds a worker spent on one attempt of a video job, from claim to its end.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600),
)


@contextlib.contextmanager
def job_telemetry(video_id: str) -> Iterator[None]:
    """The job's id on every log line inside, and its duration in JOB_SECONDS."""
    token = job_id.set(video_id)
    started = time.monotonic()
    try:
        yield
    finally:
        JOB_SECONDS.observe(time.monotonic() - started)
        job_id.reset(token)


class _Ids(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    request_id, job_id, and the traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "job_id": getattr(record, "job_id", None),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


LogFormat = Literal["text", "json"]


def configure_logging(log_format: LogFormat, level: str = "WARNING") -> None:
    """The root logger writes to stderr in `log_format`; uvicorn's loggers go through it
    (their own handlers removed), so every line has the same shape."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Ids())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
