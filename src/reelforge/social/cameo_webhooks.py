"""A cameo's owner is told of every use by someone else by webhook, to an address they set
(docs/CAMEOS.md, "Told of every use: webhooks"). Always on: there is no event to opt out of.

1. The owner sets `webhook_url` (`check_url`: http or https, no credentials, at most 2000
   characters; `check_public`: a public address, see outbox.check_address); a new address
   gets a new secret (webhooks.new_secret), shown to them once.
2. social/cameos.py calls `queue_event` beside each consent log entry about another
   person's use: a draft or remix ("cameo.used"), the owner's approval ("cameo.used",
   status approved), a post ("cameo.posted"), a refused cast at request or clip stage
   ("cameo.blocked"), a take-down ("cameo.removed"). The event, naming the log entry's
   `seq`, is an outbox row (outbox.enqueue) in the log entry's transaction, with the
   address and secret the cameo has then: a rollback writes neither, a commit both.
3. The outbox sender of the server and of each worker delivers it, in order per address,
   retrying with backoff for 24 h; a process killed mid-send leaves the row to be sent
   again (at-least-once, one `webhook-id`). `reelforge webhooks list` shows what failed.
4. `send_test` sends one "cameo.test" event at once (to a public address only) and says
   what the receiver answered.

Logs name the event and the address without its query string, never the secret.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session

from reelforge import outbox, webhooks
from reelforge.db.models import Cameo, ConsentLogEntry
from reelforge.service.errors import APIError

log = logging.getLogger(__name__)

MAX_URL_CHARS = 2000  # the column's size (db/models.py Cameo.webhook_url)
TEST_TIMEOUT_S = 10.0

EventType = Literal["cameo.used", "cameo.blocked", "cameo.posted", "cameo.removed"]


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


def check_public(url: str | None, *, allow_private: bool) -> None:
    """400 naming `webhook_url` when `url` resolves to a loopback, private, link-local,
    multicast, reserved or unspecified address (unless `allow_private`)."""
    if url is None:
        return
    try:
        outbox.check_address(url, allow_private=allow_private)
    except outbox.AddressRefused as refused:
        raise APIError(
            400, f"webhook_url: {refused}", param="webhook_url", code="invalid_value"
        ) from None


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
    """Put an event about `entry` (a consent log entry of `cameo`) in the outbox, in the
    entry's transaction; nothing when the cameo has no webhook. `by` is the handle of the person who
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
    outbox.enqueue(db, cameo.webhook_url, cameo.webhook_secret, event)


def _event(event_type: str, data: dict[str, Any], created_at: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created_at": int(time.time()) if created_at is None else created_at,
        "data": data,
    }


# 3. Sending: outbox.py's sender, in the server and in every worker --------------------


# 4. The test event -------------------------------------------------------------------


def send_test(url: str, secret: str, handle: str, *, allow_private: bool = False) -> dict[str, Any]:
    """POST one signed "cameo.test" event, once (no retries: the owner is waiting), and
    say what happened: {"delivered", "status" (the HTTP status or None), "detail"}. The
    address is checked again after DNS resolution; a refused one is not sent to."""
    event = _event("cameo.test", {"cameo": handle})
    try:
        outbox.check_address(url, allow_private=allow_private)
    except outbox.AddressRefused as refused:
        detail = f"not sent: {refused}"
        return {"delivered": False, "status": None, "detail": detail, "event_id": event["id"]}
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
