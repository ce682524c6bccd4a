"""Live notifications (docs/APP.md): wake a person's open notification streams after a
commit that notified them.

1. `social.notify.notify` notes the recipient's id in `db.info[PENDING]`.
2. After the transaction commits, the `after_commit` listener registered here on the
   session factory takes those ids and publishes them: to this process's hub at once and,
   with `redis_url`, on the Redis channel `<queue_name>:notify` for the other server
   processes. A rollback drops them, so nothing is announced that did not happen.
3. A process with open streams runs one relay task, subscribed to that channel, which
   wakes its hub for the ids other processes published.
4. The hub wakes each open stream of those people; the stream then reads what is new
   since the last id it sent (service/api/notifications.py). A lost wake-up (Redis down
   or restarting, a message dropped) therefore costs latency, never a notification:
   every stream also looks by itself every POLL_S.

Streams never end by themselves, and uvicorn waits for every open response before it
stops; so at SIGTERM or SIGINT the hub is shut first and every stream ends, letting the
server stop at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import redis
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from reelforge.settings import Settings
from reelforge.social.notify import PENDING

log = logging.getLogger(__name__)

POLL_S = 10.0  # a stream looks for new rows this often even without a wake-up
RELAY_RETRY_S = 1.0  # after the Redis subscription fails, try again after this long


@dataclass(eq=False)
class Waiter:
    """One open stream of one person. Woken from any thread through its own event loop
    (the server has one; tests' clients each run their own)."""

    user_id: str
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout_s: float) -> bool:
        """Until woken or `timeout_s`; True if woken. Clears the wake-up, so one that
        arrives while the caller reads the database is kept for the next wait."""
        try:
            await asyncio.wait_for(self.event.wait(), max(0.0, timeout_s))
        except TimeoutError:
            return False
        self.event.clear()
        return True

    def wake(self) -> None:
        with suppress(RuntimeError):  # its loop has closed: the stream is gone
            self.loop.call_soon_threadsafe(self.event.set)


class Hub:
    """This process's open streams, by person."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}
        self.closing = False

    def open(self, user_id: str) -> Waiter:
        waiter = Waiter(user_id, asyncio.get_running_loop())
        with self._lock:
            self._waiters.setdefault(user_id, set()).add(waiter)
        return waiter

    def close(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.user_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(waiter.user_id, None)

    def streams_of(self, user_id: str) -> int:
        with self._lock:
            return len(self._waiters.get(user_id, ()))

    def wake(self, user_ids: Iterable[str]) -> None:
        """Wake these people's streams; safe from any thread."""
        with self._lock:
            targets = [w for user_id in user_ids for w in self._waiters.get(user_id, ())]
        for waiter in targets:
            waiter.wake()

    def wake_all(self) -> None:
        with self._lock:
            targets = [w for waiters in self._waiters.values() for w in waiters]
        for waiter in targets:
            waiter.wake()

    def shut(self) -> None:
        """End every stream (the server is stopping)."""
        self.closing = True
        self.wake_all()


class Live:
    """The hub, the publisher used after commits, and (with Redis) the relay."""

    def __init__(self, settings: Settings) -> None:
        self.hub = Hub()
        self.channel = f"{settings.queue_name}:notify"
        self.redis_url = settings.redis_url
        # Tells this process's own messages apart: its hub was woken directly.
        self.origin = secrets.token_hex(8)
        self._redis = (
            redis.Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
            if settings.redis_url
            else None
        )
        self._relay: asyncio.Task[None] | None = None

    def publish(self, user_ids: set[str]) -> None:
        """Step 2: after a commit, in whatever thread committed. Never raises: the
        notifications are stored; at worst they arrive by polling."""
        self.hub.wake(user_ids)
        if self._redis is None:
            return
        message = json.dumps({"origin": self.origin, "users": sorted(user_ids)})
        try:
            self._redis.publish(self.channel, message)
        except redis.RedisError as error:
            log.warning("live notifications: cannot publish to Redis: %s", error)

    def ensure_relay(self) -> None:
        """Step 3: start the relay on the running loop unless it runs (called by each
        stream, so a process nobody streams from never subscribes)."""
        if self.redis_url is None or (self._relay is not None and not self._relay.done()):
            return
        self._relay = asyncio.get_running_loop().create_task(self._relay_forever())

    async def _relay_forever(self) -> None:
        import redis.asyncio as aioredis

        while not self.hub.closing:
            client = aioredis.Redis.from_url(self.redis_url or "")
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    # Anything published while this process was not listening.
                    self.hub.wake_all()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._relayed(message["data"])
            except (redis.RedisError, OSError) as error:
                log.warning("live notifications: Redis subscription failed: %s", error)
                await asyncio.sleep(RELAY_RETRY_S)
            finally:
                await client.aclose()

    def _relayed(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            users = body["users"]
        except (ValueError, KeyError, TypeError):
            log.warning("live notifications: ignored a malformed message on %s", self.channel)
            return
        if body.get("origin") != self.origin:
            self.hub.wake(str(u) for u in users)

    async def stop(self) -> None:
        self.hub.shut()
        if self._relay is not None and not self._relay.done():
            self._relay.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._relay
        if self._redis is not None:
            self._redis.close()


def install(app: FastAPI, factory: sessionmaker[Session], settings: Settings) -> None:
    """Wake open notification streams after commits that notified someone."""
    live = Live(settings)
    app.state.live = live

    def after_commit(db: Session) -> None:
        user_ids = db.info.pop(PENDING, None)
        if user_ids:
            live.publish(set(user_ids))

    def after_rollback(db: Session) -> None:
        db.info.pop(PENDING, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_rollback", after_rollback)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            live.hub.closing = False  # an app started again in the same process (tests)
            restore = _first_on_stop_signals(live.hub.shut)
            try:
                yield state
            finally:
                restore()
                await live.stop()

    app.router.lifespan_context = lifespan


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _first_on_stop_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` at SIGINT/SIGTERM, then whatever handled the signal before (uvicorn's
    graceful stop). Returns a function that puts the previous handlers back. Only the main
    thread may set handlers; elsewhere (tests' in-process clients) nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}

    def handler(sig: int, frame: FrameType | None) -> None:
        callback()
        before = previous[sig]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler and before is not None:
                signal.signal(sig, before)

    return restore
