"""The job queue: Huey's storage, on SQLite in the data directory by default and on Redis
when REELFORGE_QUEUE_URL is redis://...

Only "video X is ready to run" travels through the queue; the database row stays the
truth. A message can be lost (a worker killed after taking it, Redis restarted): the
worker's sweep puts such jobs back, and a duplicate message is harmless because claiming
a row is atomic. A message only wakes a worker: which job it claims is its fair pick
(worker.py), so one user's burst of messages does not decide the order.
"""

from __future__ import annotations

import logging

from huey import Huey, RedisHuey, SqliteHuey

from reelforge.errors import ConfigError
from reelforge.settings import Settings

log = logging.getLogger(__name__)


class JobQueue:
    def __init__(self, settings: Settings):
        url = settings.queue_url
        self.huey: Huey
        if url and url.startswith(("redis://", "rediss://", "unix://")):
            self.huey = RedisHuey(
                settings.queue_name, url=url, results=False, blocking=True, read_timeout=1
            )
        elif url:
            raise ConfigError(
                f"REELFORGE_QUEUE_URL must be redis://..., got {url!r}", param="REELFORGE_QUEUE_URL"
            )
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(
                settings.queue_name, filename=str(settings.data_dir / "queue.db"), results=False
            )

        @self.huey.task(name="run_video")
        def run_video(video_id: str) -> str:  # a message; the worker does the work
            return video_id

        self._run_video = run_video

    def enqueue(self, video_id: str) -> bool:
        """Announce a committed job. False if the queue is down (the sweep will retry)."""
        try:
            self._run_video(video_id)
            return True
        except Exception as error:  # the job is safe in the database
            log.warning("could not enqueue %s: %s", video_id, type(error).__name__)
            return False

    def next(self) -> str | None:
        """The next announced video id, or None (Redis waits up to a second for one)."""
        task = self.huey.dequeue()
        if task is None:
            return None
        return str(task.args[0]) if task.args else None

    def __len__(self) -> int:
        return int(self.huey.pending_count())
