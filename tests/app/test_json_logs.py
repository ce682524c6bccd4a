"""JSON logs (REELFORGE_LOG_FORMAT=json): a real `reelforge serve` writes one JSON object
per log line on stderr, each with the request id the caller sent (echoed back) or one
the server made; lines written while a job runs carry its id."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
from tests.app.test_notifications import start_server

from reelforge.logs import JsonFormatter, _Ids
from reelforge.telemetry import job_telemetry

FIELDS = {"time", "level", "logger", "message", "request_id", "job_id"}


def test_a_server_with_json_logs_writes_one_object_a_line_with_request_ids(
    tmp_path: Path,
) -> None:
    server = start_server(
        tmp_path / "data", REELFORGE_LOG_FORMAT="json", REELFORGE_LOG_LEVEL="INFO"
    )
    try:
        sent = httpx.get(f"{server.url}/v1/videos", headers={"x-request-id": "req-from-client"})
        assert sent.status_code == 401
        assert sent.headers["x-request-id"] == "req-from-client"
        made = httpx.get(f"{server.url}/healthz")
        made_id = made.headers["x-request-id"]
        assert len(made_id) == 32 and made_id != "req-from-client"
    finally:
        server.stop()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    # The one line that is not a log record: the CLI's banner, printed before logging.
    lines = [line for line in lines if not line.startswith("reelforge: serving on ")]
    records = [json.loads(line) for line in lines]  # every other line is one object
    assert records and all(record.keys() >= FIELDS for record in records)
    by_request = {record["request_id"]: record for record in records if record["request_id"]}
    assert by_request["req-from-client"]["logger"] == "reelforge.access"
    assert by_request["req-from-client"]["message"].startswith("GET /v1/videos 401")
    assert by_request[made_id]["message"].startswith("GET /healthz 200")
    assert by_request[made_id]["level"] == "INFO"
    assert all(r["request_id"] for r in records if r["logger"] == "reelforge.access")


def test_log_lines_inside_a_job_carry_its_id() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_Ids())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("reelforge.test_json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with job_telemetry("video_abc"):
            logger.info("rendering")
        logger.info("idle")
    finally:
        logger.removeHandler(handler)
    inside, after = (json.loads(line) for line in out.getvalue().splitlines())
    assert inside["job_id"] == "video_abc" and inside["message"] == "rendering"
    assert after["job_id"] is None
