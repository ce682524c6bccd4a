"""A cameo's owner is told of every use by someone else by webhook, to an address they set
(docs/CAMEOS.md, "Told of every use: webhooks"). Always on: there is no event to opt out of.

1. The owner sets `webhook_url` (`check_url`: http or https, no credentials, at most 2000
   characters); a new address gets a new secret (webhooks.new_secret), shown to them once.
2. social/cameos.py calls `queue_event` beside each consent log entry about another
   person's use: a draft or remix ("cameo.used"), the owner's approval ("cameo.used",
   status approved), a post ("cameo.posted"), a refused cast at request or clip stage
   ("cameo.blocked"), a take-down ("cameo.removed"). The event, naming the log entry's
   `seq`, waits in `db.info[PENDING]` with the address and secret the cameo has then.
3. After the transaction commits, the `after_commit` listener that `install` put on the
   session factory (the server's and the worker's) hands the events to one daemon thread
   per address, which sends them in order with webhooks.deliver (signed, 5 tries with
   backoff). A rollback drops them, so nothing is announced that did not happen; a process
   that dies before a send ends loses that event (the consent log still has the entry).
4. `send_test` sends one "cameo.test" event at once and says what the receiver answered.

Logs name the event and the address without its query string, never the secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from reelforge import webhooks
from reelforge.db.models import Cameo, ConsentLogEntry
from reelforge.service.errors import APIError

log = logging.getLogger(__name__)

PENDING = "reelforge.cameo_webhooks"  # db.info key: the events to send after commit
MAX_URL_CHARS = 2000  # the column's size (db/models.py Cameo.webhook_url)
TEST_TIMEOUT_S = 10.0

EventType = Literal["cameo.used", "cameo.blocked", "cameo.posted", "cameo.removed"]


@dataclass(frozen=True)
class Outgoing:
    """One event for one address, with the secret it is signed with."""

    url: str
    secret: str
    event: dict[str, Any]


# 1. The address ----------------------------------------------------------------------


def check_url(value: str | None) -> str | None:
    """The address to send to, or None for "" / null (no webhook). 400 naming
    `webhook_url` for anything but an absolute http(s) URL with a host, without
    credentials, at most MAX_URL_CHARS long."""
    if value is None or value.strip() == "":
        return None
    url = value.strip()

    def bad(why: str) -> APIError:
        return APIError(400, f"webhook_url: {why}", param="webhook_url", code="invalid_value")

    if len(url) > MAX_URL_CHARS:
        raise bad(f"at most {MAX_URL_CHARS} characters, got {len(url)}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise bad("a URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number or out of range
    except ValueError as error:
        raise bad(f"not a URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(f"must start with http:// or https://, got {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise bad("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise bad("must not carry a user name or password; put a token in the path instead")
    return url


def redacted(url: str | None) -> str | None:
    """`url` without its query string and fragment (they may hold tokens): for logs and
    the consent log."""
    if url is None:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# 2. Queueing, beside the consent log entry -------------------------------------------


def queue_event(
    db: Session,
    cameo: Cameo,
    event_type: EventType,
    entry: ConsentLogEntry,
    *,
    by: str | None,
    prompt: str | None,
    **detail: Any,
) -> None:
    """Hold an event about `entry` (a consent log entry of `cameo`) until the transaction
    commits; nothing when the cameo has no webhook. `by` is the handle of the person who
    used or tried to use the cameo; `detail` adds `status` or `reason` (and `stage`)."""
    if not cameo.webhook_url or not cameo.webhook_secret:
        return
    data = {
        "cameo": cameo.handle,
        "video_id": entry.video_id,
        "by": by,
        "prompt": prompt,
        **detail,
        "log_event": entry.event,
        "log_seq": entry.seq,
    }
    event = _event(event_type, data, created_at=entry.at)
    db.info.setdefault(PENDING, []).append(Outgoing(cameo.webhook_url, cameo.webhook_secret, event))


def _event(event_type: str, data: dict[str, Any], created_at: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created_at": int(time.time()) if created_at is None else created_at,
        "data": data,
    }


# 3. Sending, after commit ------------------------------------------------------------


def install(factory: sessionmaker[Session]) -> None:
    """Send the events of every commit of `factory`'s sessions; drop them on rollback.
    Installing twice on one factory (the server's worker shares the server's) is a no-op."""
    if not sa_event.contains(factory, "after_commit", _after_commit):
        sa_event.listen(factory, "after_commit", _after_commit)
        sa_event.listen(factory, "after_rollback", _after_rollback)


def _after_commit(db: Session) -> None:
    pending: list[Outgoing] | None = db.info.pop(PENDING, None)
    if pending:
        start_sending(pending)


def _after_rollback(db: Session) -> None:
    db.info.pop(PENDING, None)


def start_sending(
    pending: list[Outgoing], deliver: Callable[..., bool] = webhooks.deliver
) -> list[threading.Thread]:
    """One daemon thread per address, sending its events in the order they were queued;
    the caller never waits on a receiver."""
    by_url: dict[str, list[Outgoing]] = {}
    for each in pending:
        by_url.setdefault(each.url, []).append(each)
    threads = [
        threading.Thread(target=_send_all, args=(batch, deliver), daemon=True, name="cameo-webhook")
        for batch in by_url.values()
    ]
    for thread in threads:
        thread.start()
    return threads


def _send_all(batch: list[Outgoing], deliver: Callable[..., bool]) -> None:
    for each in batch:
        event_id, event_type = each.event["id"], each.event["type"]
        try:
            sent = deliver(each.url, each.secret, each.event)
        except Exception as error:  # a bad stored secret, say: log it, keep the thread's peers
            log.error(
                "cameo webhook %s (%s) to %s failed: %s",
                event_id,
                event_type,
                redacted(each.url),
                type(error).__name__,
            )
            continue
        if not sent:
            log.error(
                "cameo webhook %s (%s) for @%s to %s was not delivered",
                event_id,
                event_type,
                each.event["data"]["cameo"],
                redacted(each.url),
            )


# 4. The test event -------------------------------------------------------------------


def send_test(url: str, secret: str, handle: str) -> dict[str, Any]:
    """POST one signed "cameo.test" event, once (no retries: the owner is waiting), and
    say what happened: {"delivered", "status" (the HTTP status or None), "detail"}."""
    event = _event("cameo.test", {"cameo": handle})
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": event["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhooks.sign(secret, event["id"], timestamp, body),
    }
    try:
        with (
            httpx.Client(timeout=TEST_TIMEOUT_S, follow_redirects=False) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        status, detail = None, f"no answer within {TEST_TIMEOUT_S:g} s"
    except httpx.TransportError as error:
        status, detail = None, f"could not connect ({type(error).__name__})"
    else:
        detail = f"the receiver answered HTTP {status}"
    delivered = status is not None and 200 <= status < 300
    if not delivered:
        log.info("cameo test webhook %s to %s: %s", event["id"], redacted(url), detail)
    return {"delivered": delivered, "status": status, "detail": detail, "event_id": event["id"]}
