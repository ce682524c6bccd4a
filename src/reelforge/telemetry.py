"""The job durations /metrics serves, observed where the job runs (log lines and their
ids are `reelforge.logs`).

That may be a `reelforge worker` process that serves no HTTP. With several processes on
one host, set PROMETHEUS_MULTIPROC_DIR (an empty folder, the same for all of them):
prometheus_client then keeps each process's values in files there, and /metrics adds them
up (service/metrics.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import Histogram

from reelforge.logs import job_id

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
