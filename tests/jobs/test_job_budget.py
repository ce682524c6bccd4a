"""A memory budget per job (jobs/memory_budget.py, issue 21): a job estimated over the
budget is refused before rendering, and one that grows past it while rendering is stopped
by a real `reelforge worker` process; both fail with job_memory_budget_exceeded, and
leave no media and no temp folder behind. The worker goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from reelforge.db.models import User, Video
from reelforge.db.session import make_engine, session_factory
from reelforge.deployment import Deployment
from reelforge.jobs.memory_budget import MemoryWatch, estimate_peak_mb
from reelforge.jobs.queue import JobQueue
from reelforge.jobs.worker import Worker
from reelforge.settings import Settings

TINY = {"size": "256x448", "seconds": "1", "engine": "sim"}


def queue_video(settings: Settings, video_id: str, prompt: str, **fields: str) -> None:
    factory = session_factory(make_engine(settings))
    with factory() as db:
        if db.get(User, "u_ada") is None:
            db.add(User(id="u_ada", name="ada"))
            db.flush()
        db.add(
            Video(
                id=video_id,
                user_id="u_ada",
                status="queued",
                model="sora-2",
                prompt=prompt,
                seed=7,
                sequence=time.time_ns(),
                **(TINY | fields),
            )
        )
        db.commit()


def row(settings: Settings, video_id: str) -> Video:
    with session_factory(make_engine(settings))() as db:
        video = db.get(Video, video_id)
        assert video is not None
        db.expunge(video)
        return video


def test_the_estimate_grows_with_size_seconds_and_a_held_clip() -> None:
    small = estimate_peak_mb("sim", 720, 1280, 4, 24)
    assert 80 <= small <= 200  # measured: 80-120 MB over the job's start
    assert estimate_peak_mb("sim", 720, 1280, 20, 24) > small
    assert estimate_peak_mb("sim", 1792, 1024, 4, 24) > small
    # An engine that returns the whole clip holds every frame: 600 of 1792x1024 RGB, twice.
    held = estimate_peak_mb("dit", 1792, 1024, 20, 30)
    assert held > 2 * 600 * 1792 * 1024 * 3 / 2**20


def test_the_watch_stops_the_thread_that_grows(tmp_path: Path) -> None:
    """The thread inside the watch gets JobMemoryExceeded while it allocates; memory it
    held is its own again once the exception unwinds it."""
    import numpy as np

    from reelforge.jobs.memory_budget import JobMemoryExceeded

    held: list[np.ndarray] = []
    watch = MemoryWatch(budget_mb=64, sample_s=0.01)
    try:
        with watch:
            for _ in range(200):  # up to 2 GB, 10 MB at a time: stopped long before
                held.append(np.ones(10 * 2**20 // 8))
                time.sleep(0.002)
        raise AssertionError("not stopped")
    except JobMemoryExceeded:
        pass
    assert watch.exceeded and 64 < watch.growth_mb < 1024
    assert len(held) < 100


def test_a_job_estimated_over_the_budget_is_refused_before_rendering(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", job_memory_budget_mb=16)
    queue_video(settings, "video_big", "a red ball bounces", size="1792x1024", seconds="20")
    factory = session_factory(make_engine(settings))
    worker = Worker(Deployment(settings, factory=factory), JobQueue(settings))

    assert worker.claim("video_big") is not None
    worker.process("video_big")

    video = row(settings, "video_big")
    assert video.status == "failed" and video.error_code == "job_memory_budget_exceeded"
    assert video.error_message is not None
    assert "budget of 16 MB" in video.error_message and "1792x1024" in video.error_message
    assert "nothing was rendered" in video.error_message
    assert not (tmp_path / "data" / "media" / "video_big").exists()


def test_a_real_worker_stops_a_job_that_grows_past_the_budget(tmp_path: Path) -> None:
    """A fresh `reelforge worker` process: its first job loads the models (about 250 MB)
    and grows past a 100 MB budget that the tiny clip's estimate fits in. The job fails,
    its files and temp folder are gone, and the worker lives on."""
    budget_mb = 100
    assert estimate_peak_mb("sim", 256, 448, 1, 24) < budget_mb
    settings = Settings(data_dir=tmp_path / "data")
    queue_video(settings, "video_grows", 'A man in a kitchen says "Hello." A red ball bounces.')
    env = {
        **os.environ,
        "REELFORGE_DATA_DIR": str(tmp_path / "data"),
        "REELFORGE_JOB_MEMORY_BUDGET_MB": str(budget_mb),
        "TMPDIR": str(tmp_path),
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120  # a bound on a hang, not a measurement
        while (video := row(settings, "video_grows")).status in ("queued", "in_progress"):
            assert time.monotonic() < deadline and worker.poll() is None, video.status
            time.sleep(0.1)
        assert video.status == "failed", (video.status, video.error_message)
        assert video.error_code == "job_memory_budget_exceeded"
        message = video.error_message or ""
        assert f"over the budget of {budget_mb} MB" in message and "stopped" in message
        grown_mb = float(message.split("memory by ")[1].split(" MB")[0])
        assert grown_mb > budget_mb
        assert video.attempts == 1  # not retried: it would grow the same way
        assert (tmp_path / "reelforge-jobs").is_dir()  # the job had its temp folder...
        # ...removed as the job's step ends, just after its status is written
        while list((tmp_path / "reelforge-jobs").glob("reelforge-job-*")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not list((tmp_path / "data" / "media").glob("video_grows/**/*.*"))
        time.sleep(0.5)
        assert worker.poll() is None  # still taking jobs
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "worker.log").read_text(errors="replace")
