"""The job worker: takes announced videos from the queue and runs the pipeline on them.

The video's row is the job's truth; the queue (queue.py) only announces it. A worker
picks the next job fairly (round-robin between users: the user with the fewest running
jobs, then the one served longest ago; their oldest due job) and claims it atomically:
status queued → in_progress, attempts + 1, a random lease token and lease_expires_at =
now + job_lease_s. A heartbeat thread renews
the lease every third of it, independently of rendering, so a heavy step that calls no
progress callback is not mistaken for a dead worker. Every later write of the job
(progress, completion with its files' folder, failure, requeue) is fenced: UPDATE ...
WHERE id = ? AND lease_token = ?; no row means this worker lost the job (its lease
expired and another worker took it over): it deletes its own files and stops.

Each attempt writes its files under its own folder, `{video_id}/{attempt}/`; the served
files change only when the fenced completion stores that folder on the row, so a late
worker never overwrites what is served. A failed attempt's files are deleted; a retry is
queued with not_before = now + job_retry_base_s * 2^(attempt-1), jittered. A worker
whose lease expired (killed, stopped) leaves its row in_progress; any worker, every
RECOVER_EVERY_S (or job_lease_s if shorter), puts such rows back in the queue, or fails
them once they have used all their attempts. Temp folders are `reelforge-job-{pid}-*`
under one parent; a worker removes those of dead processes at start-up. Cancellation
(DELETE) is noticed at the next progress callback, that is within one rendering step.
Each job keeps to
Settings.job_memory_budget_mb (memory_budget.py): refused before rendering when its
estimate is over it, stopped when the process's memory grows past it while rendering;
either fails it (job_memory_budget_exceeded) without a retry.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from reelforge import outbox, pipeline
from reelforge.cameos.draw import cast_likenesses, references_of
from reelforge.db.models import User, Video, now_s
from reelforge.db.registry import DatabaseRegistry
from reelforge.db.session import transaction
from reelforge.deployment import Deployment
from reelforge.errors import Cancelled, ReelforgeError
from reelforge.jobs.memory_budget import JobMemoryExceeded, MemoryWatch, estimate_peak_mb
from reelforge.jobs.queue import JobQueue
from reelforge.provenance.manifest import Parent
from reelforge.provenance.registry import RegistryEntry
from reelforge.social.cameos import recheck as recheck_cameos
from reelforge.storage import StorageNotFound
from reelforge.telemetry import job_telemetry
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


def media_key(video_id: str, variant: str, prefix: str | None = None) -> str:
    """The stored file of a video's variant: under its served attempt's folder (the row's
    media_prefix), or, for rows from before leases (no prefix), directly under its id."""
    return f"{prefix or video_id}/{MEDIA[variant][0]}"


def served_key(factory: sessionmaker[Session], video_id: str, variant: str) -> str:
    """media_key of the attempt the row serves now."""
    with factory() as session:
        prefix = session.scalar(select(Video.media_prefix).where(Video.id == video_id))
    return media_key(video_id, variant, prefix)


JOB_TMP_PREFIX = "reelforge-job-"


def job_tmp_parent() -> Path:
    parent = Path(tempfile.gettempdir()) / "reelforge-jobs"
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def remove_orphan_tmp() -> list[Path]:
    """Remove temp folders of jobs whose worker process is gone (killed mid-job)."""
    removed = []
    for folder in job_tmp_parent().glob(f"{JOB_TMP_PREFIX}*"):
        try:
            pid = int(folder.name[len(JOB_TMP_PREFIX) :].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _media_files(result: pipeline.Result) -> dict[str, Path]:
    """The files a finished job serves, by variant (the video, its thumbnail, its
    spritesheet: generate(stills=True) wrote all three)."""
    assert result.thumbnail_path is not None and result.spritesheet_path is not None
    return {
        "video": result.video_path,
        "thumbnail": result.thumbnail_path,
        "spritesheet": result.spritesheet_path,
    }


class LeaseLost(Exception):
    """Another worker holds the job now (this one's lease expired)."""


class _FencedRegistry(DatabaseRegistry):
    """The watermark registry, written only while this worker holds the job's lease (in
    the same transaction as a fenced touch of the row): a late worker adds no row."""

    def __init__(self, factory: sessionmaker[Session], video_id: str, token: str) -> None:
        super().__init__(factory)
        self.video_id, self.token = video_id, token

    def record(self, entry: RegistryEntry) -> None:
        from reelforge.db.models import Watermark

        fields = {k: v for k, v in dataclasses.asdict(entry).items() if v is not None}
        with self.factory() as session, session.begin():
            held = session.execute(
                update(Video)
                .where(Video.id == self.video_id, Video.lease_token == self.token)
                .values(heartbeat_at=time.time())
            )
            if held.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost(self.video_id)
            session.merge(Watermark(**fields))


class _Heartbeat:
    """Renews one job's lease every third of job_lease_s until stopped, fenced by token."""

    def __init__(self, worker: Worker, video_id: str, token: str):
        self.worker, self.video_id, self.token = worker, video_id, token
        self.stop = threading.Event()
        self.lost = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{video_id}")

    def _run(self) -> None:
        lease_s = self.worker.settings.job_lease_s
        while not self.stop.wait(lease_s / 3):
            try:
                if not self.worker._renew(self.video_id, self.token):
                    self.lost.set()
                    return
            except Exception:  # the database is briefly away: try again next beat
                log.warning("lease renewal of %s failed", self.video_id, exc_info=True)


class Worker:
    def __init__(self, deployment: Deployment, queue: JobQueue, worker_id: str | None = None):
        """`deployment`: settings, database, storage, registry and the policy (its models
        load on first use), shared with whoever else runs in this process (the server)."""
        self.deployment = deployment
        self.settings = deployment.settings
        self.factory = deployment.factory
        self.storage = deployment.storage
        self.queue = queue
        self.registry = deployment.registry
        self.worker_id = worker_id or f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self._last_recover = 0.0

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        # Webhooks (video events here, owners' cameo events from `recheck`) are outbox rows
        # written with the change; this process's sender sends them (outbox.py).
        outbox.start_sender(self.factory, self.settings, stop)
        for folder in remove_orphan_tmp():
            log.warning("removed the temp folder of a dead worker: %s", folder)
        self.recover_stale()
        while not stop.is_set():
            # A takeover waits for the lease to expire, then at most this long.
            recover_every_s = min(RECOVER_EVERY_S, self.settings.job_lease_s)
            if time.monotonic() - self._last_recover > recover_every_s:
                self.recover_stale()
            # An announcement only wakes the worker; which job it runs is the fair pick.
            announced = self.queue.next()
            claimed = self.claim_next()
            if claimed is not None:
                self.process(*claimed)
            elif announced is None:
                stop.wait(POLL_S)

    def recover_stale(self) -> None:
        """Requeue jobs whose worker stopped heart-beating (fail those out of attempts), and
        announce again queued jobs that nobody took (their message was lost)."""
        self._last_recover = time.monotonic()
        now = time.time()
        cutoff = now - self.settings.job_stale_after_s
        announce: list[str] = []
        failed: list[str] = []
        with transaction(self.factory) as session:
            stale = session.scalars(
                select(Video).where(
                    Video.status == "in_progress",
                    (Video.lease_expires_at < now)
                    | (
                        Video.lease_expires_at.is_(None)
                        & ((Video.heartbeat_at.is_(None)) | (Video.heartbeat_at < cutoff))
                    ),
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
                    video.lease_token, video.lease_expires_at = None, None
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

    def claim_next(self) -> tuple[str, str] | None:
        """Claim the next due job, fairly between users: among users with a due queued job,
        the one with the fewest running jobs, then the one whose last claim is longest ago
        (round-robin), then the one whose oldest due job is oldest; that user's oldest job.
        Returns (video_id, lease_token), or None when nothing is due."""
        for _ in range(5):  # another worker may claim the pick first: pick again
            video_id = self._fair_pick()
            if video_id is None:
                return None
            token = self.claim(video_id)
            if token is not None:
                return video_id, token
        return None

    def _fair_pick(self) -> str | None:
        now = time.time()
        with self.factory() as session:
            due = (Video.status == "queued") & (
                Video.not_before.is_(None) | (Video.not_before <= now)
            )
            oldest = (
                select(Video.user_id, func.min(Video.sequence).label("first"))
                .where(due)
                .group_by(Video.user_id)
                .subquery()
            )
            running = (
                select(Video.user_id, func.count().label("n"))
                .where(Video.status == "in_progress")
                .group_by(Video.user_id)
                .subquery()
            )
            last_turn = (  # when each user last had a job claimed: round-robin order
                select(Video.user_id, func.max(Video.claimed_at).label("at"))
                .where(Video.claimed_at.is_not(None))
                .group_by(Video.user_id)
                .subquery()
            )
            pick = session.execute(
                select(oldest.c.user_id, oldest.c.first)
                .outerjoin(running, running.c.user_id == oldest.c.user_id)
                .outerjoin(last_turn, last_turn.c.user_id == oldest.c.user_id)
                .order_by(
                    func.coalesce(running.c.n, 0),
                    func.coalesce(last_turn.c.at, 0.0),
                    oldest.c.first,
                )
                .limit(1)
            ).first()
            if pick is None:
                return None
            return session.scalar(
                select(Video.id)
                .where(due, Video.user_id == pick.user_id, Video.sequence == pick.first)
                .limit(1)
            )

    def claim(self, video_id: str) -> str | None:
        """Take the job if it is still queued and due; its lease token, or None."""
        token = secrets.token_hex(16)
        now = time.time()
        with transaction(self.factory) as session:
            claimed = session.execute(
                update(Video)
                .where(
                    Video.id == video_id,
                    Video.status == "queued",
                    Video.not_before.is_(None) | (Video.not_before <= now),
                )
                .values(
                    status="in_progress",
                    worker_id=self.worker_id,
                    attempts=Video.attempts + 1,
                    heartbeat_at=now,
                    lease_token=token,
                    lease_expires_at=now + self.settings.job_lease_s,
                    progress=0,
                    claimed_at=now,
                )
            )
            return token if claimed.rowcount == 1 else None  # type: ignore[attr-defined]

    def _fenced(self, session: Session, video_id: str, token: str, **values: object) -> bool:
        """UPDATE the job's row only while this worker holds its lease."""
        result = session.execute(
            update(Video).where(Video.id == video_id, Video.lease_token == token).values(**values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _renew(self, video_id: str, token: str) -> bool:
        with transaction(self.factory) as session:
            now = time.time()
            return self._fenced(
                session,
                video_id,
                token,
                heartbeat_at=now,
                lease_expires_at=now + self.settings.job_lease_s,
            )

    # -- one job -----------------------------------------------------------------------------
    def process(self, video_id: str, token: str | None = None) -> None:
        if token is None:  # claimed by `claim` (tests, tools): the row holds the token
            with self.factory() as session:
                token = session.scalar(select(Video.lease_token).where(Video.id == video_id))
            if token is None:
                return
        heartbeat = _Heartbeat(self, video_id, token)
        heartbeat.thread.start()
        prefix = f"{video_id}/{secrets.token_hex(6)}"  # this attempt's folder in storage
        try:
            with job_telemetry(video_id):  # job_id on log lines; duration for /metrics
                self._process(video_id, token, prefix, heartbeat)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; output discarded", video_id)
            self._delete_media(video_id, prefix)
        finally:
            heartbeat.stop.set()

    def _process(self, video_id: str, token: str, prefix: str, heartbeat: _Heartbeat) -> None:
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
        refusal = self._over_budget(request)
        if refusal is not None:
            self._fail(video_id, "job_memory_budget_exceeded", refusal, token)
            return
        last_write = [0.0]
        slept: list[bool] = []

        def on_progress(stage: str, fraction: float) -> None:
            now = time.monotonic()
            if now - last_write[0] < 0.25 and fraction < 1.0:
                return
            last_write[0] = now
            if self.settings.job_step_sleep_s and not slept:  # tests: one silent heavy step
                slept.append(True)
                time.sleep(self.settings.job_step_sleep_s)
            with transaction(self.factory) as session:
                if self._fenced(session, video_id, token, progress=min(99, int(fraction * 100))):
                    return
                if session.get(Video, video_id) is None:  # deleted: cancelled
                    raise Cancelled(f"video {video_id} was cancelled")
            raise LeaseLost(video_id)

        with tempfile.TemporaryDirectory(
            prefix=f"{JOB_TMP_PREFIX}{os.getpid()}-", dir=job_tmp_parent()
        ) as tmp:
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
                        with self.storage.open(
                            served_key(self.factory, source_id, "video")
                        ) as source:
                            Path(tmp, "parent.mp4").write_bytes(source.read())
                    except StorageNotFound:
                        parent_path = None
                    parent = Parent(source_id, relation, parent_path)
                watch = MemoryWatch(self.settings.job_memory_budget_mb)
                with watch:  # JobMemoryExceeded in this thread once over the budget
                    result = pipeline.generate(
                        request,
                        Path(tmp) / "video.mp4",
                        progress=on_progress,
                        deployment=self.deployment,
                        # Remixes, edits and extensions start from their source's plan.
                        base_plan=ScenePlan.model_validate_json(base_plan) if base_plan else None,
                        provenance=pipeline.Provenance(
                            video_id=video_id,
                            parent=parent,
                            registry=_FencedRegistry(self.factory, video_id, token),
                        ),
                        cameos=references_of(casts),
                        stills=True,
                    )
                refusal = self._cameo_recheck(video_id, result)
                if refusal is not None:  # an owner's rules, against what the clip became
                    self._fail(video_id, "cameo_not_allowed", refusal, token)
                    return
                if heartbeat.lost.is_set():
                    raise LeaseLost(video_id)
                files = _media_files(result)
                for variant, path in files.items():
                    self.storage.put_file(
                        media_key(video_id, variant, prefix), path, MEDIA[variant][1]
                    )
            except JobMemoryExceeded:  # no retry: the same job would grow the same way
                self._delete_media(video_id, prefix)
                log.warning("job %s: stopped at %.0f MB over its start", video_id, watch.growth_mb)
                self._fail(
                    video_id,
                    "job_memory_budget_exceeded",
                    f"job_memory_budget_exceeded: the job grew its worker's memory by "
                    f"{watch.growth_mb:.0f} MB while rendering, over the budget of "
                    f"{watch.budget_mb:g} MB (REELFORGE_JOB_MEMORY_BUDGET_MB); it was stopped",
                    token,
                )
                return
            except (Cancelled, LeaseLost) as stopped:
                self._delete_media(video_id, prefix)
                if isinstance(stopped, Cancelled):
                    self._forget(video_id)
                    return
                raise
            except ReelforgeError as error:
                self._delete_media(video_id, prefix)
                if error.status >= 500 and attempts < self.settings.max_attempts:
                    log.warning("job %s: %s; retrying", video_id, error)  # e.g. moderation down
                    self._requeue(video_id, token, attempts)
                else:  # the request cannot be done (policy, bad input): no retry
                    self._fail(video_id, error.code or "generation_failed", str(error), token)
                return
            except Exception as error:
                self._delete_media(video_id, prefix)
                log.exception("job %s failed (attempt %d)", video_id, attempts)
                if attempts < self.settings.max_attempts:
                    self._requeue(video_id, token, attempts)
                else:
                    self._fail(
                        video_id,
                        "generation_failed",
                        f"generation failed {attempts} times: {type(error).__name__}",
                        token,
                    )
                return
        self._complete(video_id, token, prefix, result.plan.model_dump_json())

    def _over_budget(self, request: Request) -> str | None:
        """Why the job cannot run within the memory budget by its estimate, else None."""
        budget_mb = self.settings.job_memory_budget_mb
        estimate_mb = estimate_peak_mb(
            request.engine, request.width, request.height, request.seconds, request.fps
        )
        if estimate_mb <= budget_mb:
            return None
        return (
            f"job_memory_budget_exceeded: a {request.seconds:g} s {request.size} clip at "
            f"{request.fps} fps on engine {request.engine} needs about {estimate_mb:.0f} MB, "
            f"over the budget of {budget_mb} MB (REELFORGE_JOB_MEMORY_BUDGET_MB); "
            "nothing was rendered"
        )

    def _cameo_recheck(self, video_id: str, result: pipeline.Result) -> str | None:
        """The cast cameos' owners' presets and preferences, as they are now, against the
        clip's caption and speech (social/cameos.py `recheck`); the refusal is logged."""
        transcript = [segment.text for segment in result.clip.speech]
        with transaction(self.factory) as session:
            return recheck_cameos(session, video_id, result.caption, transcript)

    def _complete(self, video_id: str, token: str, prefix: str, plan_json: str) -> None:
        """The fenced switch: the row serves this attempt's folder, and its event is queued,
        in one transaction, only while this worker still holds the lease."""
        with transaction(self.factory) as session:
            completed_at = now_s()
            if self._fenced(
                session,
                video_id,
                token,
                status="completed",
                progress=100,
                completed_at=completed_at,
                expires_at=completed_at + self.settings.video_ttl_s,
                plan_json=plan_json,
                heartbeat_at=time.time(),
                media_prefix=prefix,
                lease_token=None,
                lease_expires_at=None,
            ):
                self._notify("video.completed", video_id, session)
                return
        # Cancelled (row deleted) or taken over: this attempt's files are nobody's.
        self._delete_media(video_id, prefix)
        log.warning("job %s: not completed by this worker (cancelled or lease lost)", video_id)

    def _fail(self, video_id: str, code: str, message: str, token: str) -> None:
        with transaction(self.factory) as session:
            if self._fenced(
                session,
                video_id,
                token,
                status="failed",
                error_code=code,
                error_message=message[:1000],
                completed_at=now_s(),
                lease_token=None,
                lease_expires_at=None,
            ):
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

    def _requeue(self, video_id: str, token: str, attempts: int) -> None:
        """Back to the queue, due after base * 2^(attempts-1) seconds, jittered ±50 %."""
        delay_s = self.settings.job_retry_base_s * 2 ** (attempts - 1) * random.uniform(0.5, 1.5)
        with transaction(self.factory) as session:
            requeued = self._fenced(
                session,
                video_id,
                token,
                status="queued",
                worker_id=None,
                progress=0,
                heartbeat_at=time.time(),
                not_before=time.time() + delay_s,
                lease_token=None,
                lease_expires_at=None,
            )
        if requeued:
            self.queue.enqueue(video_id)

    def _forget(self, video_id: str) -> None:
        self._delete_media(video_id)
        with transaction(self.factory) as session:
            row = session.get(Video, video_id)
            if row is not None:
                session.delete(row)

    def _delete_media(self, video_id: str, prefix: str | None = None) -> None:
        for variant in MEDIA:
            self.storage.delete(media_key(video_id, variant, prefix))
