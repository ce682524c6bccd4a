"""`Idempotency-Key` on every POST: a retried request makes one job (issue 21).

A client that loses the answer to a POST (a timeout, a server killed after the commit)
sends it again; the `openai` SDK does so by itself. With the same `Idempotency-Key`, from
the same user, within KEEP_S, the retry gets the first answer instead of a second job.

1. `Idempotency` (ASGI middleware) claims the key: one row per (user, key) holding the
   request's fingerprint (method, path and a digest of the body, the multipart boundary
   left out: a client draws a new one per attempt). The row's primary key makes the claim
   atomic across processes and database connections.
2. A route that creates something settles the claim in the same transaction as what it
   creates (`settle`, called from service/videos.py `_submit`): the row records the new
   video's id. So a server killed between that commit and its answer leaves a settled
   row, and the retry is answered with that video, never a second one.
3. When the answer goes out, the middleware stores it (status and JSON body, up to
   MAX_STORED_BYTES); a retry gets it back as it was, with `Idempotent-Replayed: true`.
   A settled row whose answer was never stored (the kill in 2) is answered from the
   database: the video as the route's family shows it (/v1 or /api).
4. The same key with another request: 409 `idempotency_key_reused`. A retry while the
   first is still running: 409 `idempotency_key_in_progress` with Retry-After (the SDK
   retries a 409). A 5xx releases the claim, so the retry runs again. A claim left
   unsettled by a dead process is taken over after STALE_S: nothing was committed with
   it, so running the request again makes nothing twice.

Requests without the header, and requests no user is signed in for, pass untouched.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.db.models import IdempotencyKey, now_s
from reelforge.service import errors
from reelforge.service.hardening import read_body

HEADER = "idempotency-key"
KEEP_S = 24 * 3600
STALE_S = 120  # an unsettled claim older than this belongs to a dead request
MAX_KEY_CHARS = 255
MAX_STORED_BYTES = 256 * 1024
PURGE_CHANCE = 0.01  # of claims: also delete rows older than KEEP_S


@dataclass
class Claim:
    user_id: str
    key: str
    settled: bool = False


_CLAIM: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("idempotency_claim")


def settle(db: Session, resource_id: str) -> None:
    """Record, in the caller's transaction, that this request created `resource_id`
    (a video id). A no-op for a request without an Idempotency-Key."""
    claim = _CLAIM.get(None)
    if claim is None:
        return
    db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == claim.user_id, IdempotencyKey.key == claim.key)
        .values(resource_id=resource_id)
    )
    claim.settled = True


def fingerprint(method: str, path: str, content_type: str, body: bytes) -> str:
    """A digest of what the request asks for, the same for every attempt of it."""
    boundary = _boundary(content_type)
    if boundary:
        body = body.replace(boundary, b"")
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), content_type.split(";")[0].encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _boundary(content_type: str) -> bytes | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def _bad_key(key: str) -> bool:
    return not (1 <= len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable())


class Idempotency:
    def __init__(self, app: ASGIApp, factory: sessionmaker[Session]) -> None:
        self.app, self.factory = app, factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        raw_key = headers.get(HEADER.encode())
        if scope["type"] != "http" or scope["method"] != "POST" or raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if _bad_key(key):
            await errors.envelope(
                400,
                f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable ASCII characters",
                param="Idempotency-Key",
                code="invalid_idempotency_key",
            )(scope, receive, send)
            return
        user_id = await run_in_threadpool(self._user, headers)
        if user_id is None:  # nobody signed in: the route answers 401 (or signs someone up)
            await self.app(scope, receive, send)
            return
        body, receive_body = await read_body(receive)
        if body is None:
            return  # the client left
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        digest = fingerprint("POST", scope["path"], content_type, body)
        outcome = await run_in_threadpool(self._claim, user_id, key, scope["path"], digest)
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return

        claim = Claim(user_id, key)
        token = _CLAIM.set(claim)
        status = 500
        chunks: list[bytes] = []
        stored_type = ""

        async def capture(message: Message) -> None:
            nonlocal status, stored_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        stored_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_body, capture)
        finally:
            _CLAIM.reset(token)
            answer = b"".join(chunks)
            await run_in_threadpool(self._finish, claim, status, stored_type, answer)

    # The database side, each in its own short transaction. -----------------------------

    def _user(self, headers: dict[bytes, bytes]) -> str | None:
        from reelforge.service.auth import SESSION_COOKIE, person_for_credentials

        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, api_key = authorization.partition(" ")
        cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
        with self.factory() as db:
            person = person_for_credentials(
                db, api_key.strip() if scheme.lower() == "bearer" else None, cookie
            )
        return person.id if person is not None else None

    def _claim(self, user_id: str, key: str, path: str, digest: str) -> Response | None:
        """None when this request holds the key now; else the answer to give instead."""
        now = now_s()
        with self.factory() as db:
            if random.random() < PURGE_CHANCE:
                db.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP_S))
                db.commit()
            for _attempt in range(2):  # a second try when the holder released it meanwhile
                db.add(
                    IdempotencyKey(
                        user_id=user_id, key=key, path=path, fingerprint=digest, created_at=now
                    )
                )
                try:
                    db.commit()
                    return None
                except IntegrityError:
                    db.rollback()
                held = db.get(IdempotencyKey, (user_id, key), populate_existing=True)
                if held is not None:
                    break
            else:
                return _in_progress()
            expired = held.created_at < now - KEEP_S
            stale = (
                held.status is None
                and held.resource_id is None
                and (held.created_at < now - STALE_S)
            )
            if expired or stale:  # a new request, or a dead one's claim: take it over
                held.path, held.fingerprint, held.created_at = path, digest, now
                held.status, held.body, held.content_type = None, None, None
                db.commit()
                return None
            if held.fingerprint != digest or held.path != path:
                return errors.envelope(
                    409,
                    "Idempotency-Key was already used for a different request in the last "
                    "24 hours; use a new key for a new request",
                    param="Idempotency-Key",
                    code="idempotency_key_reused",
                )
            if held.status is not None:
                return _replay(held.status, held.content_type, held.body or b"")
            if held.resource_id is not None:
                return _replay(200, "application/json", _render(db, path, held))
            return _in_progress()

    def _finish(self, claim: Claim, status: int, content_type: str, body: bytes) -> None:
        with self.factory() as db:
            where = (IdempotencyKey.user_id == claim.user_id, IdempotencyKey.key == claim.key)
            if status >= 500 or status == 429:
                # Nothing was made (a route that made something settled it in the same
                # transaction), or the request was turned away before it ran (a rate
                # limit): the retry runs again.
                db.execute(
                    delete(IdempotencyKey).where(*where, IdempotencyKey.resource_id.is_(None))
                )
            elif len(body) <= MAX_STORED_BYTES:
                db.execute(
                    update(IdempotencyKey)
                    .where(*where)
                    .values(status=status, content_type=content_type[:100], body=body)
                )
            else:  # too large to keep: the status is, with an empty body
                db.execute(
                    update(IdempotencyKey)
                    .where(*where)
                    .values(status=status, content_type="application/json", body=b"{}")
                )
            db.commit()


def _render(db: Session, path: str, held: IdempotencyKey) -> bytes:
    """The settled video as the route family that made it shows it."""
    from reelforge.db.models import Video
    from reelforge.service.videos import video_public
    from reelforge.social import posts as rules

    video = db.get(Video, held.resource_id)
    if video is None:  # deleted since: say so as the API does for a gone video
        body: Any = {"id": held.resource_id, "object": "video", "deleted": True}
    elif path.startswith("/api/"):
        body = rules.video_outs(db, [video])[0].model_dump(mode="json")
    else:
        body = video_public(video)
    return json.dumps(body, separators=(",", ":")).encode()


def _replay(status: int, content_type: str | None, body: bytes) -> Response:
    return Response(
        body,
        status_code=status,
        media_type=content_type or "application/json",
        headers={"idempotent-replayed": "true"},
    )


def _in_progress() -> Response:
    return errors.envelope(
        409,
        "a request with this Idempotency-Key is still being processed; retry shortly",
        param="Idempotency-Key",
        code="idempotency_key_in_progress",
        headers={"retry-after": "1"},
    )


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
