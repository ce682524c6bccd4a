"""Log lines as operators read them: plain, or one JSON object each, carrying the
request's and the job's id.

The ids travel in context variables: the service's RequestId middleware sets
`request_id` for everything a request does (run_db's threads copy the context), the job
worker sets `job_id` while it runs a job (`reelforge.telemetry.job_telemetry`). A logging
filter copies both onto every record, so any formatter can print them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


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
