"""The job worker: takes announced videos from the queue and runs the pipeline on them.

The video's row is the job's truth; the queue (queue.py) only announces it. A worker
claims a row atomically (status queued → in_progress, attempts + 1), writes progress
and a heartbeat from the engine's progress callback, and finishes with completed or
failed. A worker that dies leaves its row in_progress with an old heartbeat; the next
worker to start (or any worker, every RECOVER_EVERY_S) puts such rows back in the queue,
or fails them once they have used all their attempts. Cancellation (DELETE) is noticed
at the next progress callback, that is within one rendering step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reelforge import outbox, pipeline
from reelforge.cameos.draw import cast_likenesses, references_of
from reelforge.db.models import User, Video, now_s
from reelforge.db.policy import policy_engine
from reelforge.db.session import transaction
from reelforge.errors import Cancelled, ReelforgeError
from reelforge.jobs.queue import JobQueue
from reelforge.media.images import Stills
from reelforge.provenance.manifest import Parent
from reelforge.provenance.registry import DatabaseRegistry
from reelforge.recaption import remix_plan
from reelforge.settings import Settings
from reelforge.social.cameos import recheck as recheck_cameos
from reelforge.storage import Storage, StorageNotFound
from reelforge.types import Request, ScenePlan
from reelforge.webhooks import video_event

log = logging.getLogger(__name__)

RECOVER_EVERY_S = 5.0
REANNOUNCE_AFTER_S = 30.0  # a queued job nobody took this long is announced again
POLL_S = 0.2
MEDIA = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}


def media_key(video_id: str, variant: str) -> str:
    return f"{video_id}/{MEDIA[variant][0]}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        storage: Storage,
        queue: JobQueue,
        worker_id: str | None = None,
    ):
        self.settings = settings
        self.factory = factory
        self.storage = storage
        self.queue = queue
        self.registry = DatabaseRegistry(factory)
        self.policy = policy_engine(settings, factory)  # loads its models on first use
        self.worker_id = worker_id or f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self._last_recover = 0.0

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        # Webhooks (video events here, owners' cameo events from `recheck`) are outbox rows
        # written with the change; this process's sender sends them (outbox.py).
        outbox.start_sender(self.factory, self.settings, stop)
        self.recover_stale()
        while not stop.is_set():
            if time.monotonic() - self._last_recover > RECOVER_EVERY_S:
                self.recover_stale()
            announced = self.queue.next()
            if announced is None:
                stop.wait(POLL_S)
                continue
            if self.claim(announced):
                self.process(announced)

    def recover_stale(self) -> None:
        """Requeue jobs whose worker stopped heart-beating (fail those out of attempts), and
        announce again queued jobs that nobody took (their message was lost)."""
        self._last_recover = time.monotonic()
        cutoff = time.time() - self.settings.job_stale_after_s
        announce: list[str] = []
        failed: list[str] = []
        with transaction(self.factory) as session:
            stale = session.scalars(
                select(Video).where(
                    Video.status == "in_progress",
                    (Video.heartbeat_at.is_(None)) | (Video.heartbeat_at < cutoff),
                )
            ).all()
            for video in stale:
                if video.attempts >= self.settings.max_attempts:
                    video.status, video.progress = "failed", video.progress
                    video.error_code = "worker_lost"
                    video.error_message = (
                        f"the worker stopped during generation (attempt {video.attempts} of "
                        f"{self.settings.max_attempts}); giving up"
                    )
                    video.completed_at = now_s()
                    failed.append(video.id)
                else:
                    video.status, video.worker_id = "queued", None
                    video.heartbeat_at = time.time()
                    announce.append(video.id)
                log.warning("recovered stale job %s (attempt %d)", video.id, video.attempts)
            forgotten = session.scalars(
                select(Video).where(
                    Video.status == "queued",
                    (Video.heartbeat_at.is_(None))
                    | (Video.heartbeat_at < time.time() - REANNOUNCE_AFTER_S),
                )
            ).all()
            for video in forgotten:
                if video.created_at < time.time() - REANNOUNCE_AFTER_S:
                    video.heartbeat_at = time.time()  # as "last announced"
                    announce.append(video.id)
        for video_id in announce:
            self.queue.enqueue(video_id)
        for video_id in failed:
            self._notify("video.failed", video_id)

    def claim(self, video_id: str) -> bool:
        """Take the job if it is still queued (a duplicate or stale message is not)."""
        with transaction(self.factory) as session:
            claimed = session.execute(
                update(Video)
                .where(Video.id == video_id, Video.status == "queued")
                .values(
                    status="in_progress",
                    worker_id=self.worker_id,
                    attempts=Video.attempts + 1,
                    heartbeat_at=time.time(),
                    progress=0,
                )
            )
            return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    # -- one job -----------------------------------------------------------------------------
    def process(self, video_id: str) -> None:
        with self.factory() as session:
            video = session.get(Video, video_id)
            if video is None:
                return
            owner = session.get(User, video.user_id)
            request = Request(
                prompt=video.prompt,
                seconds=float(video.seconds),
                size=video.size,
                seed=video.seed,
                engine=video.engine,
                creator=owner.name if owner is not None else None,
            )
            source_id = video.source_video_id if video.kind != "create" else None
            relation = video.kind
            attempts = video.attempts
            base_plan = video.base_plan_json
            reference_key = video.input_reference_key
            casts = cast_likenesses(session, video_id)  # the cameos it casts (cameo_uses)
        last_write = [0.0]

        def on_progress(stage: str, fraction: float) -> None:
            now = time.monotonic()
            if now - last_write[0] < 0.25 and fraction < 1.0:
                return
            last_write[0] = now
            with transaction(self.factory) as session:
                row = session.get(Video, video_id)
                if row is None:  # deleted: cancelled
                    raise Cancelled(f"video {video_id} was cancelled")
                row.progress = min(99, int(fraction * 100))
                row.heartbeat_at = time.time()

        with tempfile.TemporaryDirectory(prefix="reelforge-job-") as tmp:
            try:
                if reference_key is not None:
                    reference = Path(tmp) / "reference"
                    with self.storage.open(reference_key) as source:
                        reference.write_bytes(source.read())
                    request = dataclasses.replace(request, input_reference=reference)
                parent = None
                if source_id is not None:  # the C2PA parent ingredient, if still stored
                    parent_path: Path | None = Path(tmp) / "parent.mp4"
                    try:
                        with self.storage.open(media_key(source_id, "video")) as source:
                            Path(tmp, "parent.mp4").write_bytes(source.read())
                    except StorageNotFound:
                        parent_path = None
                    parent = Parent(source_id, relation, parent_path)
                # Remixes, edits and extensions start from their source's plan.
                plan = (
                    remix_plan(
                        ScenePlan.model_validate_json(base_plan),
                        request.prompt,
                        request.seed or 0,
                        self.settings,
                    )
                    if base_plan
                    else None
                )
                stills = Stills()  # the thumbnail's and spritesheet's frames, taken while encoding
                result = pipeline.generate(
                    request,
                    Path(tmp) / "video.mp4",
                    progress=on_progress,
                    settings=self.settings,
                    plan=plan,
                    provenance=pipeline.Provenance(
                        video_id=video_id, parent=parent, registry=self.registry
                    ),
                    policy=self.policy,
                    cameos=references_of(casts),
                    stills=stills,
                )
                refusal = self._cameo_recheck(video_id, result)
                if refusal is not None:  # an owner's rules, against what the clip became
                    self._fail(video_id, "cameo_not_allowed", refusal)
                    return
                files = self._write_media(result, stills, Path(tmp))
                for variant, path in files.items():
                    self.storage.put_file(media_key(video_id, variant), path, MEDIA[variant][1])
            except Cancelled:
                self._forget(video_id)
                return
            except ReelforgeError as error:
                if error.status >= 500 and attempts < self.settings.max_attempts:
                    log.warning("job %s: %s; retrying", video_id, error)  # e.g. moderation down
                    self._requeue(video_id)
                else:  # the request cannot be done (policy, bad input): no retry
                    self._fail(video_id, error.code or "generation_failed", str(error))
                return
            except Exception as error:
                log.exception("job %s failed (attempt %d)", video_id, attempts)
                if attempts < self.settings.max_attempts:
                    self._requeue(video_id)
                else:
                    self._fail(
                        video_id,
                        "generation_failed",
                        f"generation failed {attempts} times: {type(error).__name__}",
                    )
                return
        self._complete(video_id, result.plan.model_dump_json())

    def _cameo_recheck(self, video_id: str, result: pipeline.Result) -> str | None:
        """The cast cameos' owners' presets and preferences, as they are now, against the
        clip's caption and speech (social/cameos.py `recheck`); the refusal is logged."""
        transcript = [segment.text for segment in result.clip.speech]
        with transaction(self.factory) as session:
            return recheck_cameos(session, video_id, result.caption, transcript)

    @staticmethod
    def _write_media(result: pipeline.Result, stills: Stills, tmp: Path) -> dict[str, Path]:
        thumbnail = tmp / "thumbnail.webp"
        thumbnail.write_bytes(stills.thumbnail_webp())
        sprites = tmp / "spritesheet.jpg"
        sprites.write_bytes(stills.spritesheet_jpg())
        return {"video": result.video_path, "thumbnail": thumbnail, "spritesheet": sprites}

    def _complete(self, video_id: str, plan_json: str) -> None:
        with transaction(self.factory) as session:
            row = session.get(Video, video_id)
            if row is None:  # deleted: cancelled
                self._delete_media(video_id)
                return
            row.status, row.progress = "completed", 100
            row.completed_at = now_s()
            row.expires_at = row.completed_at + self.settings.video_ttl_s
            row.plan_json = plan_json
            row.heartbeat_at = time.time()
            self._notify("video.completed", video_id, session)

    def _fail(self, video_id: str, code: str, message: str) -> None:
        with transaction(self.factory) as session:
            row = session.get(Video, video_id)
            if row is not None:
                row.status, row.error_code, row.error_message = "failed", code, message[:1000]
                row.completed_at = now_s()
            self._notify("video.failed", video_id, session)

    def _notify(
        self,
        event_type: Literal["video.completed", "video.failed"],
        video_id: str,
        session: Session | None = None,
    ) -> None:
        """Put the webhook in the outbox, in `session`'s transaction (the status change's)
        or else its own; the outbox sender delivers it, with retries for 24 h."""
        url, secret = self.settings.webhook_url, self.settings.webhook_secret
        if not url or not secret:
            return
        if session is not None:
            outbox.enqueue(session, url, secret, video_event(event_type, video_id))
            return
        with transaction(self.factory) as own:
            outbox.enqueue(own, url, secret, video_event(event_type, video_id))

    def _requeue(self, video_id: str) -> None:
        with transaction(self.factory) as session:
            row = session.get(Video, video_id)
            if row is not None:
                row.status, row.worker_id, row.progress = "queued", None, 0
                row.heartbeat_at = time.time()
        self.queue.enqueue(video_id)

    def _forget(self, video_id: str) -> None:
        self._delete_media(video_id)
        with transaction(self.factory) as session:
            row = session.get(Video, video_id)
            if row is not None:
                session.delete(row)

    def _delete_media(self, video_id: str) -> None:
        for variant in MEDIA:
            self.storage.delete(media_key(video_id, variant))
