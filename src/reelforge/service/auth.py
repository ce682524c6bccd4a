"""Who is calling: a person signed in on the web (session cookie) or an app (API key).

Browsers get a random session token in a Secure, HttpOnly, SameSite=Lax cookie; the server
keeps only its SHA-256. Every state-changing request that is authenticated by the cookie
must also carry the session's CSRF token (header `X-CSRF-Token`, or a form field
`csrf_token`), which the page reads from `GET /api/session` — a cross-site form can send
the cookie but cannot read the token. Requests with an API key (`Authorization: Bearer`)
carry no cookie and need no CSRF token.

Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reelforge.db.keys import user_for_key
from reelforge.db.models import User, WebSession, now_s
from reelforge.service.deps import StateDep, check_rate_limit, run_db
from reelforge.service.errors import APIError
from reelforge.service.forms import read_form

SESSION_COOKIE = "rf_session"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 30
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLES = ("user", "moderator", "admin")

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """False for a wrong password and for a user who has none (API-key-only)."""
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Person:
    """The caller: a user, how they authenticated, and (for a browser) the CSRF token."""

    id: str
    name: str
    role: str
    via: Literal["cookie", "key"]
    csrf_token: str | None = None

    @property
    def is_moderator(self) -> bool:
        return self.role in ("moderator", "admin")


def start_session(db: Session, user_id: str) -> tuple[str, str]:
    """A new signed-in session for `user_id`: (cookie token, CSRF token). The caller
    commits."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    db.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user_id,
            csrf_token=csrf,
            expires_at=now_s() + SESSION_DAYS * 86400,
        )
    )
    return token, csrf


def end_session(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def cookie_is_secure(request: Request) -> bool:
    """Secure cookies everywhere but plain-HTTP localhost (where browsers would drop them)."""
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host not in ("localhost", "127.0.0.1", "::1")


def _by_key(db: Session, key: str) -> Person | None:
    user = user_for_key(db, key)
    if user is None or user.suspended:
        return None
    return Person(id=user.id, name=user.name, role=user.role, via="key")


def _by_cookie(db: Session, token: str) -> Person | None:
    row = db.execute(
        select(User, WebSession)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == _token_hash(token), WebSession.expires_at > now_s())
    ).first()
    if row is None or row[0].suspended:
        return None
    user, session = row
    return Person(
        id=user.id, name=user.name, role=user.role, via="cookie", csrf_token=session.csrf_token
    )


def person_for_credentials(db: Session, api_key: str | None, cookie: str | None) -> Person | None:
    """Who an API key (first) or a session cookie belongs to, without raising: for the
    middleware that needs the caller before any route runs (service/idempotency.py)."""
    if api_key:
        return _by_key(db, api_key)
    if cookie:
        return _by_cookie(db, cookie)
    return None


async def optional_person(request: Request, service: StateDep) -> Person | None:
    """The caller, or None when nobody is signed in. A bad key or an expired cookie is
    treated as nobody only for the cookie; a bad API key is an error (the app meant to
    authenticate). A write by someone signed in counts against their rate limit."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not key.strip():
            raise APIError(401, "send Authorization: Bearer <key>", code="missing_api_key")
        person = await run_db(service, lambda db: _by_key(db, key.strip()))
        if person is None:
            raise APIError(401, "invalid API key", code="invalid_api_key")
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        person = await run_db(service, lambda db: _by_cookie(db, token))
        if person is None:
            return None
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, person)
    if request.method not in SAFE_METHODS:
        # The app's writes spend the same per-person budget as /v1 (service/limits.py);
        # its reads do not: a page load is many of them, and each is cheap to serve.
        await check_rate_limit(request, service, person.id)
    return person


async def _check_csrf(request: Request, person: Person) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await read_form(request)
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not person.csrf_token or not secrets.compare_digest(sent, person.csrf_token):
        raise APIError(
            403,
            "missing or wrong CSRF token: send the X-CSRF-Token header from GET /api/session",
            param="csrf_token",
            code="csrf_failed",
        )


async def current_person(person: Annotated[Person | None, Depends(optional_person)]) -> Person:
    if person is None:
        raise APIError(401, "sign in first", code="not_signed_in")
    return person


async def current_moderator(person: Annotated[Person, Depends(current_person)]) -> Person:
    if not person.is_moderator:
        raise APIError(403, "only moderators may do this", code="not_a_moderator")
    return person


PersonDep = Annotated[Person, Depends(current_person)]
MaybePersonDep = Annotated[Person | None, Depends(optional_person)]
ModeratorDep = Annotated[Person, Depends(current_moderator)]
