"""Durable webhooks: an outbox table, and a sender that survives restarts.

1. `enqueue` adds a row (db/models.py WebhookDelivery) in the caller's transaction: the
   worker beside a video's status change, social/cameo_webhooks.py beside a consent log
   entry. A rollback writes no row; a commit always has one. The row's id is the event id
   and the `webhook-id` of every attempt (at-least-once: receivers deduplicate on it).
2. `start_sender` runs one daemon thread per process and database (the worker's and the
   server's): every poll it `claim`s due rows with a conditional UPDATE (due, not delivered
   or failed, and unclaimed or its claim expired), so two processes never send one row at
   once, on SQLite and PostgreSQL alike. A process killed mid-send leaves a claim that
   expires after claim_s (6 × webhook_timeout_s: a claim outlives any one send); another
   poll, here or elsewhere, sends the row again.
3. `send` checks the address (`check_address`: after DNS resolution, no loopback, private,
   link-local, multicast, reserved or unspecified address unless
   REELFORGE_WEBHOOK_ALLOW_PRIVATE) and POSTs once, signed, never following a redirect.
   A 2xx marks the row delivered; anything else schedules the next attempt on Standard
   Webhooks' schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; × webhook_backoff_scale,
   plus up to 10 % jitter), until the event is webhook_give_up_after_s old (24 h): then it
   is marked failed. A refused address counts as a failed attempt.
4. Rows for one address are sent oldest first; a failure skips that address's later rows
   until the next poll, so a receiver that is down sees its events in order.
5. `list_deliveries` and `retry` are the operator's view (`reelforge webhooks`); they show
   the last status and error, never the secret.
6. `prune`: every PRUNE_EVERY_S the sender deletes delivered rows older than
   webhook_keep_delivered_s, PRUNE_BATCH rows a transaction and at most
   PRUNE_MAX_BATCHES a time, so the table does not grow for ever and no delete holds
   long locks. Failed rows are kept for the operator.

The event body is stored as sent; the signature is made per attempt (fresh timestamp).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from sqlalchemy import CursorResult, Select, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from reelforge import webhooks
from reelforge.db.models import WebhookDelivery
from reelforge.db.session import transaction
from reelforge.settings import Settings

log = logging.getLogger(__name__)

SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)  # Standard Webhooks
BATCH = 50
PRUNE_EVERY_S = 60.0
PRUNE_BATCH = 500
PRUNE_MAX_BATCHES = 20


class AddressRefused(Exception):
    """The webhook address is not a public one (SSRF guard)."""


# 1. Writing, in the caller's transaction ----------------------------------------------


def enqueue(db: Session, url: str, secret: str, event: dict[str, Any]) -> WebhookDelivery:
    """Add `event` for `url` to the outbox in `db`'s transaction; due at once."""
    now = time.time()
    row = WebhookDelivery(
        id=str(event["id"]),
        kind=str(event["type"])[:40],
        url=url,
        secret=secret,
        body=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(row)
    return row


# 2. The SSRF guard -------------------------------------------------------------------


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_address(url: str, *, allow_private: bool) -> None:
    """AddressRefused unless every address `url`'s host resolves to is public (or
    `allow_private`). The reason names the address, never the URL's path or query."""
    host = urlsplit(url).hostname
    if not host:
        raise AddressRefused("the URL has no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"the host {host!r} does not resolve ({error})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _public(address):
            raise AddressRefused(f"the host {host!r} resolves to {address}, not a public address")


# 3. Sending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    status: int | None
    error: str | None


def send(row: WebhookDelivery, settings: Settings) -> Attempt:
    """POST the row's event once, signed; never follows a redirect."""
    try:
        check_address(row.url, allow_private=settings.webhook_allow_private)
    except AddressRefused as refused:
        return Attempt(False, None, f"address refused: {refused}")
    body = row.body.encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": row.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhooks.sign(row.secret, row.id, timestamp, body),
    }
    try:
        with (
            httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False) as client,
            client.stream("POST", row.url, content=body, headers=headers) as response,
        ):
            status = response.status_code  # the body is never read
    except httpx.HTTPError as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}"[:500])
    if 200 <= status < 300:
        return Attempt(True, status, None)
    return Attempt(False, status, f"HTTP {status}")


def next_delay_s(attempts: int, settings: Settings, rng: random.Random) -> float:
    """Seconds before attempt `attempts` + 1, after `attempts` failed ones."""
    base = SCHEDULE_S[min(attempts, len(SCHEDULE_S)) - 1] * settings.webhook_backoff_scale
    return base * (1 + 0.1 * rng.random())


def claim_s(settings: Settings) -> float:
    """How long a claim holds: far longer than one send (each of its connect, write and
    read may take webhook_timeout_s)."""
    return 6 * settings.webhook_timeout_s


def claim(
    factory: sessionmaker[Session], token: str, now: float, hold_s: float
) -> list[WebhookDelivery]:
    """The due rows this caller now holds for `hold_s`, oldest first (detached copies)."""
    due = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
    open_ = (
        WebhookDelivery.delivered_at.is_(None),
        WebhookDelivery.failed_at.is_(None),
        WebhookDelivery.next_attempt_at <= now,
    )
    with transaction(factory) as db:
        ids = db.scalars(
            select(WebhookDelivery.id)
            .where(*open_, due)
            .order_by(WebhookDelivery.created_at)
            .limit(BATCH)
        ).all()
    held: list[WebhookDelivery] = []
    for event_id in ids:
        with transaction(factory) as db:
            result = db.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == event_id, *open_, due)
                .values(claimed_until=now + hold_s, claim_token=token)
            )
            taken = cast(CursorResult[Any], result).rowcount
            if taken == 1:
                row = db.get(WebhookDelivery, event_id)
                if row is not None:
                    db.expunge(row)
                    held.append(row)
    return held


def _record(
    factory: sessionmaker[Session],
    row: WebhookDelivery,
    token: str,
    outcome: Attempt,
    settings: Settings,
    rng: random.Random,
) -> None:
    now = time.time()
    with transaction(factory) as db:
        live = db.get(WebhookDelivery, row.id)
        if live is None or live.claim_token != token:
            return  # our claim expired and someone else took it
        live.attempts += 1
        live.last_status, live.claimed_until, live.claim_token = outcome.status, None, None
        live.last_error = outcome.error
        if outcome.delivered:
            live.delivered_at = now
            return
        next_at = now + next_delay_s(live.attempts, settings, rng)
        if next_at > live.created_at + settings.webhook_give_up_after_s:
            live.failed_at = now
            log.error(
                "webhook %s (%s) to %s: gave up after %d attempts: %s",
                live.id,
                live.kind,
                webhooks._redact(live.url),
                live.attempts,
                outcome.error,
            )
        else:
            live.next_attempt_at = next_at
            log.warning(
                "webhook %s (%s) to %s: attempt %d not delivered (%s); next in %.1f s",
                live.id,
                live.kind,
                webhooks._redact(live.url),
                live.attempts,
                outcome.error,
                next_at - now,
            )


def send_due(
    factory: sessionmaker[Session],
    settings: Settings,
    rng: random.Random,
    *,
    now: float | None = None,
) -> int:
    """One poll: claim the rows due at `now` (default: the clock) and send them; the
    number delivered."""
    token = secrets.token_hex(8)
    delivered = 0
    stalled: set[str] = set()  # addresses that failed this poll: keep their order
    at = time.time() if now is None else now
    for row in claim(factory, token, at, claim_s(settings)):
        if row.url in stalled:
            outcome = Attempt(False, None, "an earlier event to this address is not delivered")
            with transaction(factory) as db:  # release without counting an attempt
                db.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == row.id, WebhookDelivery.claim_token == token)
                    .values(claimed_until=None, claim_token=None)
                )
            continue
        try:
            outcome = send(row, settings)
        except Exception as error:  # a bad stored secret, say: record it, go on
            outcome = Attempt(False, None, f"{type(error).__name__}")
        _record(factory, row, token, outcome, settings, rng)
        if outcome.delivered:
            delivered += 1
        else:
            stalled.add(row.url)
    return delivered


_STARTED: dict[int, threading.Thread] = {}
_LOCK = threading.Lock()


def start_sender(
    factory: sessionmaker[Session], settings: Settings, stop: threading.Event
) -> threading.Thread:
    """The sender thread for `factory`'s database in this process, until `stop` is set;
    started once (the server's worker shares the server's factory)."""
    with _LOCK:
        thread = _STARTED.get(id(factory))
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_run, args=(factory, settings, stop), daemon=True, name="webhook-outbox"
            )
            thread.start()
            _STARTED[id(factory)] = thread
        return thread


def _run(factory: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    rng = random.Random()
    last_prune = 0.0  # monotonic: prune at the first poll, then every PRUNE_EVERY_S
    while not stop.is_set():
        try:
            send_due(factory, settings, rng)
            if time.monotonic() - last_prune >= PRUNE_EVERY_S:
                last_prune = time.monotonic()
                prune(factory, settings)
        except Exception as error:  # the database away for a moment: try again next poll
            log.warning("webhook outbox poll failed: %s: %s", type(error).__name__, error)
        stop.wait(settings.webhook_poll_interval_s)


# 5. The operator's view ---------------------------------------------------------------


def list_deliveries(db: Session, *, failed_only: bool = False) -> list[dict[str, Any]]:
    """Pending and failed deliveries (never delivered ones, never the secret)."""
    query = select(WebhookDelivery).where(WebhookDelivery.delivered_at.is_(None))
    if failed_only:
        query = query.where(WebhookDelivery.failed_at.is_not(None))
    rows = db.scalars(query.order_by(WebhookDelivery.created_at)).all()
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "url": webhooks._redact(row.url),
            "state": "failed" if row.failed_at is not None else "pending",
            "attempts": row.attempts,
            "last_status": row.last_status,
            "last_error": row.last_error,
            "created_at": row.created_at,
            "next_attempt_at": None if row.failed_at is not None else row.next_attempt_at,
        }
        for row in rows
    ]


def retry(db: Session, event_id: str) -> WebhookDelivery | None:
    """Make an undelivered event due now, with a fresh 24 h; None if there is none."""
    row = db.get(WebhookDelivery, event_id)
    if row is None or row.delivered_at is not None:
        return None
    now = time.time()
    row.failed_at, row.next_attempt_at, row.created_at = None, now, now
    row.claimed_until, row.claim_token = None, None
    return row


# 6. Pruning ---------------------------------------------------------------------------


def prunable(cutoff: float) -> Select[str]:
    """Ids of up to PRUNE_BATCH rows delivered before `cutoff`: a range of the delivered_at
    index (migration 0015), so a long-kept outbox is never scanned whole."""
    delivered = WebhookDelivery.delivered_at
    return (
        select(WebhookDelivery.id)
        .where(delivered.is_not(None) & (delivered < cutoff))
        .limit(PRUNE_BATCH)
    )


def prune(factory: sessionmaker[Session], settings: Settings, *, now: float | None = None) -> int:
    """Delete delivered rows older than webhook_keep_delivered_s, PRUNE_BATCH a
    transaction and at most PRUNE_MAX_BATCHES a call (a backlog goes over several calls,
    and sending is never held up long); the number deleted. Undelivered and failed rows
    are never deleted."""
    cutoff = (time.time() if now is None else now) - settings.webhook_keep_delivered_s
    deleted = 0
    for _ in range(PRUNE_MAX_BATCHES):
        with transaction(factory) as db:
            batch = prunable(cutoff)
            result = db.execute(
                delete(WebhookDelivery)
                .where(WebhookDelivery.id.in_(batch))
                .execution_options(synchronize_session=False)
            )
            count = cast(CursorResult[Any], result).rowcount
        deleted += count
        if count < PRUNE_BATCH:
            break
    return deleted
