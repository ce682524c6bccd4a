"""Exactly-once jobs and fair scheduling (jobs/worker.py): a real server and real
`reelforge worker` processes, stopped with SIGSTOP and killed with SIGKILL, on SQLite (the
SQLite queue) and on PostgreSQL + Redis (issue 21: "on SQLite and on PostgreSQL + Redis").

- A worker stopped (SIGSTOP) mid-job loses its lease; another worker completes the job;
  the first, continued, has its writes refused: the served file is the second's, one
  watermark registry row, and the first's attempt folder is gone.
- A heavy step that calls no progress callback for longer than the lease is not taken
  over (the heartbeat thread renews the lease): the job completes in one attempt.
- A SIGKILLed worker's temp folder is removed by the next worker at start-up.
- Fair pick: one user's burst does not delay another user's single job by more than one
  job; the per-user cap on queued + running jobs answers 429 too_many_active_jobs.
- Retries back off: not_before = now + base * 2^(attempt-1), jittered; not claimed early.

One server per backend serves every test of the module (starting one costs seconds);
each test has its own users, and its workers are killed and its unfinished jobs failed
when it ends, so no test sees another's work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from tests.app.test_notifications import Server, start_server
from tests.servers import backend_settings

from reelforge.db.models import Video, Watermark
from reelforge.db.session import make_engine, session_factory
from reelforge.deployment import Deployment
from reelforge.jobs.queue import JobQueue
from reelforge.jobs.worker import JOB_TMP_PREFIX, Worker, served_key
from reelforge.settings import Settings
from reelforge.storage import storage_from_settings

LEASE_S = 2.0
MAX_ACTIVE = 6  # the per-user cap the fairness test meets


class Site:
    def __init__(self, root: Path, backend: dict[str, str]) -> None:
        self.data_dir = root / "data"
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir()
        self.env = {
            "REELFORGE_DATA_DIR": str(self.data_dir),
            "REELFORGE_JOB_LEASE_S": str(LEASE_S),
            "REELFORGE_MAX_ACTIVE_JOBS_PER_USER": str(MAX_ACTIVE),
            "REELFORGE_QUEUE_NAME": f"leases-{uuid.uuid4().hex[:8]}",
            "TMPDIR": str(self.tmp_dir),
            **backend,
        }
        self.server: Server = start_server(self.data_dir, **self.env)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.settings = Settings(
            data_dir=self.data_dir,
            database_url=backend.get("REELFORGE_DATABASE_URL"),
            queue_url=backend.get("REELFORGE_QUEUE_URL"),
            redis_url=backend.get("REELFORGE_REDIS_URL"),
            queue_name=self.env["REELFORGE_QUEUE_NAME"],
        )
        self.engine = make_engine(self.settings)
        self.factory = session_factory(self.engine)

    def key(self, user: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "reelforge.cli", "keys", "create", "--user", user],
            env={**os.environ, **self.env},
            capture_output=True,
            check=True,
        )
        return done.stdout.decode().strip()

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        log = (self.data_dir / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "reelforge.cli", "worker"],
            env={**os.environ, **self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        index = self.workers.index(process)
        return (self.data_dir / f"worker-{index}.log").read_text(errors="replace")

    def submit(self, key: str, prompt: str) -> httpx.Response:
        return httpx.post(
            f"{self.server.url}/v1/videos",
            json={"prompt": prompt, "seconds": "4"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def row(self, video_id: str) -> Video:
        with self.factory() as db:
            video = db.get(Video, video_id)
            assert video is not None
            db.expunge(video)
            return video

    def wait(self, video_id: str, status: str, within_s: float = 120) -> Video:
        deadline = time.monotonic() + within_s  # a bound on a hang, not a measurement
        while (video := self.row(video_id)).status != status:
            assert time.monotonic() < deadline, f"{video_id} is {video.status}, not {status}"
            time.sleep(0.1)
        return video

    def end_test(self) -> None:
        """Kill this test's workers and fail its unfinished jobs: the next test starts
        with no worker running and nothing queued."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()
        with self.factory() as db, db.begin():
            db.execute(
                update(Video)
                .where(Video.status.in_(("queued", "in_progress")))
                .values(status="failed", lease_token=None, lease_expires_at=None)
            )

    def close(self) -> None:
        self.end_test()
        self.server.stop()
        self.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings of each backend: the embedded default, or a scratch PostgreSQL
    database with the queue and rate limits in Redis."""
    with backend_settings(request.param) as settings:
        yield settings


@pytest.fixture(scope="module")
def shared_site(
    backend: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    made = Site(tmp_path_factory.mktemp("leases"), backend)
    yield made
    made.close()


@pytest.fixture
def site(shared_site: Site) -> Iterator[Site]:
    yield shared_site
    shared_site.end_test()


def _user(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"  # the tests share one database


def _attempt_folders(site: Site, video_id: str) -> list[str]:
    root = site.data_dir / "media" / video_id
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def test_a_stopped_worker_loses_the_job_and_its_late_writes_are_refused(site: Site) -> None:
    key = site.key(_user("alice"))
    # The first attempt pauses in one step, so it is surely mid-job when stopped.
    first = site.worker(REELFORGE_JOB_STEP_SLEEP_S="3")
    video_id = site.submit(key, "a red ball bounces").json()["id"]
    site.wait(video_id, "in_progress")
    first.send_signal(signal.SIGSTOP)
    site.worker()
    done = site.wait(video_id, "completed")
    served = served_key(site.factory, video_id, "video")
    assert done.media_prefix and served.startswith(done.media_prefix)
    first.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 60
    while "lease lost" not in site.log_of(first):
        assert time.monotonic() < deadline, site.log_of(first)
        time.sleep(0.1)
    after = site.row(video_id)
    assert (after.status, after.media_prefix, after.attempts) == ("completed", done.media_prefix, 2)
    with site.factory() as db:
        rows = db.scalar(select(func.count()).where(Watermark.video_id == video_id))
    assert rows == 1
    assert _attempt_folders(site, video_id) == [done.media_prefix.split("/")[1]]
    storage = storage_from_settings(site.settings)
    assert storage.exists(served)


def test_a_silent_heavy_step_longer_than_the_lease_is_not_taken_over(site: Site) -> None:
    key = site.key(_user("alice"))
    site.worker(REELFORGE_JOB_STEP_SLEEP_S=str(3 * LEASE_S))
    site.worker(REELFORGE_JOB_STEP_SLEEP_S=str(3 * LEASE_S))
    video_id = site.submit(key, "a blue cube spins").json()["id"]
    done = site.wait(video_id, "completed")
    assert done.attempts == 1
    assert len(_attempt_folders(site, video_id)) == 1


def test_a_killed_workers_temp_folder_is_removed_at_the_next_start(site: Site) -> None:
    key = site.key(_user("alice"))
    first = site.worker(REELFORGE_JOB_STEP_SLEEP_S="30")
    video_id = site.submit(key, "a green cone").json()["id"]
    site.wait(video_id, "in_progress")
    parent = site.tmp_dir / "reelforge-jobs"
    deadline = time.monotonic() + 30
    while not (mine := list(parent.glob(f"{JOB_TMP_PREFIX}{first.pid}-*"))):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first.kill()
    first.wait()
    site.worker()
    deadline = time.monotonic() + 60
    while any(folder.exists() for folder in mine):
        assert time.monotonic() < deadline, "the dead worker's temp folder is still there"
        time.sleep(0.1)
    assert site.wait(video_id, "completed").attempts == 2


def test_one_users_burst_does_not_starve_another_and_the_cap_answers_429(site: Site) -> None:
    alice, bob = site.key(_user("alice")), site.key(_user("bob"))
    burst = [site.submit(alice, f"a ball number {n}").json()["id"] for n in range(MAX_ACTIVE)]
    over = site.submit(alice, "one too many")
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "too_many_active_jobs"
    assert str(MAX_ACTIVE) in over.json()["error"]["message"]
    single = site.submit(bob, "bob's one clip").json()["id"]
    # One real worker, started after the burst: bob's job is the first or second it
    # takes (alice's oldest may go first: nobody has had a turn), never behind the burst.
    site.worker()
    bobs = site.wait(single, "completed")
    assert bobs.claimed_at is not None
    with site.factory() as db:
        claimed_before = db.scalars(
            select(Video.id).where(Video.id.in_(burst), Video.claimed_at < bobs.claimed_at)
        ).all()
    assert set(claimed_before) <= {burst[0]}, claimed_before
    assert bobs.attempts == 1


def test_a_failed_attempt_backs_off_and_is_not_claimed_before_it_is_due(site: Site) -> None:
    key = site.key(_user("alice"))
    video_id = site.submit(key, "a slow retry").json()["id"]
    settings = site.settings.model_copy(update={"job_retry_base_s": 60.0})
    worker = Worker(Deployment(settings, factory=site.factory), JobQueue(settings))
    for attempt in (1, 2):
        before = time.time()
        token = worker.claim(video_id)
        assert token is not None
        worker._requeue(video_id, token, attempt)
        row = site.row(video_id)
        assert row.status == "queued" and row.not_before is not None
        delay_s = row.not_before - before
        base_s = 60.0 * 2 ** (attempt - 1)
        assert 0.5 * base_s - 1 <= delay_s <= 1.5 * base_s + 1
        assert worker.claim(video_id) is None and worker.claim_next() is None  # not yet due
        with site.factory() as db, db.begin():  # time passes
            db.execute(update(Video).where(Video.id == video_id).values(not_before=time.time()))
    assert worker.claim_next() == (video_id, site.row(video_id).lease_token)
