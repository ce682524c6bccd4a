"""Request limits per user and route class, shared by every server process.

The /v1 API counts every request of an API key's user (service/deps.py); the app's /api
counts the writes of the person signed in, by cookie or key (service/auth.py), against
the same user's windows. Three classes, each its own window, so a burst of one never
starves another:

- `poll`: reads (GET /v1/videos/{id}, its content, lists). A client polling a job at the
  interval the API advises (`openai-poll-after-ms`, 500 ms) makes 120 reads a minute; the
  default of 600 leaves room for five such pollers per key at once. The app's view beacon
  (a POST per post shown while scrolling) counts here, so a fast scroll never spends the
  budget of likes and comments.
- `create`: POSTs that start work (videos, remixes, edits, extensions, characters).
- `verify`: the checks that decode an uploaded video (`POST /v1/provenance/verify`,
  the cameo take's liveness checks): seconds of CPU each (a 24 s 1080p file costs about
  5 CPU-seconds), so 10 a minute by default: at most about one core per user.
- `write`: every other write (deletes; the app's follows, likes, comments, settings,
  reports ...).

The counts live in Redis when one is configured (`REELFORGE_REDIS_URL`, else a Redis
`REELFORGE_QUEUE_URL`), so N server processes enforce one limit rather than N; without
Redis they live in this process's memory, which is right for one process. The strategy
is the `limits` library's moving window: exact over any 60 s, unlike a fixed window that
lets twice the limit through around a window boundary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from reelforge.settings import Settings

log = logging.getLogger(__name__)

RouteClass = Literal["poll", "create", "verify", "write"]

# Route templates whose POST starts a job or makes a character.
CREATE_ROUTES = frozenset(
    {
        "/v1/videos",
        "/v1/videos/{video_id}/remix",
        "/v1/videos/edits",
        "/v1/videos/extensions",
        "/v1/videos/characters",
        "/api/videos",
        "/api/posts/{video_id}/remix",
        "/api/cameos/characters",
    }
)
BEACON_ROUTES = frozenset({"/api/posts/{video_id}/view"})
VERIFY_ROUTES = frozenset({"/v1/provenance/verify", "/api/cameos/verify"})


def route_class(method: str, route_template: str) -> RouteClass:
    if method in ("GET", "HEAD") or route_template in BEACON_ROUTES:
        return "poll"
    if method == "POST" and route_template in CREATE_ROUTES:
        return "create"
    if method == "POST" and route_template in VERIFY_ROUTES:
        return "verify"
    return "write"


@dataclass(frozen=True)
class Refusal:
    """A request over its class's limit: which limit, and when to retry."""

    route_class: RouteClass
    per_minute: int
    retry_after_s: int


class RequestLimits:
    def __init__(self, settings: Settings) -> None:
        create = settings.create_rate_limit_per_minute
        self.per_minute: dict[RouteClass, int] = {
            "poll": settings.poll_rate_limit_per_minute,
            "create": settings.rate_limit_per_minute if create is None else create,
            "verify": settings.verify_rate_limit_per_minute,
            "write": settings.rate_limit_per_minute,
        }
        self._items: dict[RouteClass, RateLimitItem] = {
            name: RateLimitItemPerMinute(n) for name, n in self.per_minute.items()
        }
        self.storage = _storage(settings)
        self._limiter = MovingWindowRateLimiter(self.storage)
        # Deployments sharing one Redis (and test servers) keep apart by queue name.
        self._namespace = settings.queue_name

    def hit(self, route_class: RouteClass, key: str) -> Refusal | None:
        """Count one request; a Refusal when it is over the limit (and not counted)."""
        item = self._items[route_class]
        try:
            if self._limiter.hit(item, self._namespace, route_class, key):
                return None
            reset_at = self._limiter.get_window_stats(
                item, self._namespace, route_class, key
            ).reset_time
        except Exception:  # a lost Redis must not take the API down
            log.warning("rate limit storage unavailable; request let through", exc_info=True)
            return None
        wait_s = max(1, round(reset_at - time.time()))
        return Refusal(route_class, self.per_minute[route_class], wait_s)


def _storage(settings: Settings) -> Storage:
    url = settings.redis_url
    if url is None and settings.queue_url and settings.queue_url.startswith("redis"):
        url = settings.queue_url
    if url is None:
        return MemoryStorage()
    return RedisStorage(url)
