"""GET /readyz: can this process do its work right now? (`/healthz` only says it runs.)

Three checks, each in a worker thread with its own time limit, run one after another
(each is milliseconds when things are well; the limits bound a hung backend):

1. database: `SELECT 1` on a pooled connection;
2. queue: its backend answers (Redis: PING; the SQLite queue: a count of pending
   messages, which reads its file);
3. storage: a tiny object written under `readyz/`, read back byte for byte, deleted.

200 {"status": "ready", "checks": {"database": "ok", ...}} when all pass, else 503 with
"not ready" and each failing part named with the kind of failure (the exception's class
and, for a timeout, the limit) but never its message: a driver's message can carry a URL
with a password or a bucket's name.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey.storage import RedisStorage
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from reelforge.service.deps import ServiceState

CHECK_TIMEOUT_S = 5.0
PROBE_BYTES = b"reelforge readiness probe\n"


def check_database(service: ServiceState) -> None:
    with service.factory() as db:
        if db.execute(text("SELECT 1")).scalar_one() != 1:
            raise RuntimeError("SELECT 1 did not answer 1")


def check_queue(service: ServiceState) -> None:
    storage = service.queue.huey.storage
    if isinstance(storage, RedisStorage):
        storage.conn.ping()
    else:
        service.queue.huey.pending_count()


def check_storage(service: ServiceState) -> None:
    key = f"readyz/{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="reelforge-readyz-") as tmp:
        path = Path(tmp) / "probe"
        path.write_bytes(PROBE_BYTES)
        service.storage.put_file(key, path, "text/plain")
    try:
        with service.storage.open(key) as stream:
            if stream.read() != PROBE_BYTES:
                raise RuntimeError("the object read back differs from the one written")
    finally:
        service.storage.delete(key)


CHECKS: dict[str, Callable[[ServiceState], None]] = {
    "database": check_database,
    "queue": check_queue,
    "storage": check_storage,
}


async def readiness(service: ServiceState) -> JSONResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        results[name] = await _run(check, service)
    failing = [name for name, result in results.items() if result != "ok"]
    body: dict[str, Any] = {"status": "ready" if not failing else "not ready", "checks": results}
    if failing:
        body["failing"] = failing
    return JSONResponse(body, status_code=503 if failing else 200)


async def _run(check: Callable[[ServiceState], None], service: ServiceState) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(check, service), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"failed: no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as error:  # any failure means "not ready"; the kind, not the message
        return f"failed: {type(error).__name__}"
    return "ok"
