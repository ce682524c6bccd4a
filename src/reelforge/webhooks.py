"""Outgoing webhooks, signed per the Standard Webhooks spec (https://www.standardwebhooks.com).

Every delivery carries three headers:

- `webhook-id`: the event id; the same on every retry, so receivers can deduplicate;
- `webhook-timestamp`: unix seconds of this attempt;
- `webhook-signature`: "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).

A secret is "whsec_" + base64 of the key bytes; the HMAC key is the decoded bytes.

What the service sends goes through outbox.py (durable, retried for 24 h, SSRF-guarded),
which signs with `sign`; `deliver` is the simple in-process sender with a few quick tries,
for callers that own no database (it checks no address: give it only trusted URLs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from reelforge.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh random secret, "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key inside a "whsec_..." secret (the prefix is optional); ConfigError if bad."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        # Never echo the secret itself.
        raise ConfigError(
            "REELFORGE_WEBHOOK_SECRET: expected 'whsec_' followed by base64",
            param="REELFORGE_WEBHOOK_SECRET",
        )
    return key


def _signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value, "v1,<base64>"."""
    return "v1," + _signature(_key(secret), message_id, timestamp, body)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: int | None = None,
) -> bool:
    """True if `headers` carry a valid v1 signature of `body` made within `tolerance_s`.

    Header names are matched case-insensitively; the signature header may list several
    space-separated signatures (key rotation), any valid "v1," one suffices.
    """
    key = _key(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not signatures:
        return False
    try:
        timestamp = int(timestamp_text.strip())
    except ValueError:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _signature(key, message_id, timestamp, body).encode("ascii")
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode("ascii", "replace"), expected):
            return True
    return False


def video_event(
    event_type: Literal["video.completed", "video.failed"],
    video_id: str,
    *,
    created_at: int | None = None,
) -> dict[str, Any]:
    """The payload announcing that a video finished or failed."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created_at": int(time.time()) if created_at is None else created_at,
        "data": {"id": video_id},
    }


def _redact(url: str) -> str:
    """`url` without credentials or query string, for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<invalid url>"


def deliver(
    url: str,
    secret: str,
    event: dict[str, Any],
    *,
    attempts: int = 5,
    first_backoff_s: float = 0.5,
    timeout_s: float = 10.0,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """POST `event` to `url`, signed; True once a 2xx answer arrives.

    5xx, 429, connection errors and timeouts are retried up to `attempts` tries in all, waiting
    first_backoff_s × 2^k plus up to 10% jitter (seeded by the event id, so deterministic per
    event). Any other answer (3xx, 4xx) gives up at once. Every attempt has the same
    `webhook-id` (the event id) and a fresh timestamp and signature.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    key = _key(secret)
    message_id = str(event["id"])
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    rng = random.Random(message_id)
    where = _redact(url)

    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": "v1," + _signature(key, message_id, timestamp, body),
            }
            try:
                # Stream so that a large response body is never read.
                with client.stream("POST", url, content=body, headers=headers) as response:
                    status = response.status_code
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                log.error("webhook %s to %s: bad URL: %s", message_id, where, exc)
                return False
            except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
                log.warning(
                    "webhook %s to %s: attempt %d/%d failed: %s: %s",
                    message_id,
                    where,
                    attempt,
                    attempts,
                    type(exc).__name__,
                    exc,
                )
            else:
                if 200 <= status < 300:
                    if attempt > 1:
                        log.info(
                            "webhook %s to %s: delivered on attempt %d", message_id, where, attempt
                        )
                    return True
                if status != 429 and status < 500:
                    log.error(
                        "webhook %s to %s: attempt %d/%d got HTTP %d; not retrying",
                        message_id,
                        where,
                        attempt,
                        attempts,
                        status,
                    )
                    return False
                log.warning(
                    "webhook %s to %s: attempt %d/%d got HTTP %d",
                    message_id,
                    where,
                    attempt,
                    attempts,
                    status,
                )
            if attempt < attempts:
                base = first_backoff_s * 2 ** (attempt - 1)
                sleep(base * (1 + 0.1 * rng.random()))
    log.error("webhook %s to %s: giving up after %d attempts", message_id, where, attempts)
    return False
