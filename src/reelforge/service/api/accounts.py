"""/api/ routes: accounts, profiles, settings and the social graph (docs/APP.md).

Sign-up and login are limited per client IP (`signup_per_hour`, `login_per_minute`), and
an account locks after repeated wrong passwords (social/accounts.py). Every text a person
writes (display name, bio, steering) is stored and returned as written. Graph actions
(follow, block, hide) are idempotent and answer with the other person's profile as the
caller now sees it.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from PIL import Image, ImageOps
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reelforge.db.models import Block, Follow, HiddenCreator, Notification, Post, User
from reelforge.media.images import MAX_IMAGE_PIXELS
from reelforge.service.api.schemas import (
    NOTIFICATION_TYPES,
    LoginIn,
    ProfileIn,
    ProfileOut,
    SessionOut,
    SettingsIn,
    SettingsOut,
    SignUpIn,
)
from reelforge.service.auth import (
    SESSION_COOKIE,
    MaybePersonDep,
    PersonDep,
    clear_session_cookie,
    cookie_is_secure,
    end_session,
    set_session_cookie,
    start_session,
)
from reelforge.service.deps import ServiceState, StateDep, run_db
from reelforge.service.errors import APIError
from reelforge.social.accounts import LoginResult, check_login, create_person, handle_taken
from reelforge.social.feed import steering_blob
from reelforge.social.notify import notify
from reelforge.social.present import user_out

router = APIRouter(prefix="/api", tags=["app: accounts"])

AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_SIDE_PX = 256
AVATAR_FORMATS = ("PNG", "JPEG", "WEBP")


# Rate limits per client IP ----------------------------------------------------------


@dataclass
class IpBuckets:
    """A token bucket per client IP: `capacity` requests per `period_s`, refilled
    continuously. In memory, so each server process counts on its own."""

    capacity: int
    period_s: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, ip: str) -> float:
        """0 if the request may go ahead, else seconds to wait."""
        if self.capacity <= 0:
            return 0.0
        rate = self.capacity / self.period_s
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(ip, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[ip] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[ip] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget the oldest half rather than grow
                for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[:50_000]:
                    del self._buckets[key]
            return 0.0


@dataclass
class AccountLimits:
    signup: IpBuckets
    login: IpBuckets


def _limit(request: Request, service: ServiceState, which: str) -> None:
    """429 when this client IP has used up its sign-ups or logins."""
    limits: AccountLimits | None = getattr(request.app.state, "account_limits", None)
    if limits is None:  # one per app, so separate apps (tests) never share buckets
        settings = service.settings
        limits = AccountLimits(
            IpBuckets(settings.signup_per_hour, 3600.0), IpBuckets(settings.login_per_minute, 60.0)
        )
        request.app.state.account_limits = limits
    buckets = limits.signup if which == "signup" else limits.login
    wait_s = buckets.take(request.client.host if request.client else "unknown")
    if wait_s > 0:
        raise APIError(
            429,
            f"too many {which} attempts from this address; retry in {wait_s:.0f} s",
            code="rate_limit_exceeded",
            headers={"retry-after": str(max(1, round(wait_s)))},
        )


# Accounts ---------------------------------------------------------------------------


@router.post("/signup", status_code=201)
async def sign_up(
    body: SignUpIn, request: Request, response: Response, service: StateDep
) -> SessionOut:
    """Make an account and sign in: sets the session cookie."""
    _limit(request, service, "signup")

    def work(db: Session) -> tuple[SessionOut, str]:
        user = create_person(db, body.handle, body.password, display_name=body.display_name)
        token, csrf = start_session(db, user.id)
        try:
            db.commit()
        except IntegrityError:  # another sign-up took the handle between check and commit
            raise handle_taken(body.handle) from None
        return SessionOut(user=user_out(user), csrf_token=csrf), token

    session, token = await run_db(service, work)
    set_session_cookie(response, token, secure=cookie_is_secure(request))
    return session


@router.post("/login")
async def log_in(
    body: LoginIn, request: Request, response: Response, service: StateDep
) -> SessionOut:
    """Sign in with handle and password. The same 401 for an unknown handle and a wrong
    password; 429 while the account is locked."""
    _limit(request, service, "login")

    def work(db: Session) -> tuple[LoginResult, SessionOut | None, str]:
        result = check_login(db, body.handle, body.password)
        if result.outcome != "ok" or result.user is None:
            return result, None, ""
        token, csrf = start_session(db, result.user.id)
        db.commit()
        return result, SessionOut(user=user_out(result.user), csrf_token=csrf), token

    result, signed_in, token = await run_db(service, work)
    if signed_in is not None:
        set_session_cookie(response, token, secure=cookie_is_secure(request))
        return signed_in
    if result.outcome == "locked":
        minutes = max(1, round(result.retry_after_s / 60))
        raise APIError(
            429,
            f"too many wrong passwords: this account is locked for {minutes} more min",
            param="password",
            code="account_locked",
            headers={"retry-after": str(result.retry_after_s)},
        )
    if result.outcome == "suspended":
        raise APIError(403, "this account is suspended", param="handle", code="suspended")
    raise APIError(401, "wrong handle or password", param="password", code="wrong_credentials")


@router.post("/logout")
async def log_out(
    request: Request, response: Response, person: MaybePersonDep, service: StateDep
) -> SessionOut:
    """End this browser's session (the CSRF check applies: a cross-site page cannot sign
    you out)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and person is not None and person.via == "cookie":

        def work(db: Session) -> None:
            end_session(db, token)
            db.commit()

        await run_db(service, work)
    clear_session_cookie(response, secure=cookie_is_secure(request))
    return SessionOut(user=None, csrf_token=None)


@router.get("/session")
async def session(person: MaybePersonDep, service: StateDep) -> SessionOut:
    """Who is signed in, and the CSRF token to send with every state-changing call."""
    if person is None:
        return SessionOut(user=None, csrf_token=None)
    user = await run_db(service, lambda db: db.get(User, person.id))
    if user is None:
        return SessionOut(user=None, csrf_token=None)
    return SessionOut(user=user_out(user), csrf_token=person.csrf_token)


# Profiles ---------------------------------------------------------------------------


def _by_handle(db: Session, handle: str) -> User:
    user = db.scalar(select(User).where(User.name == handle))
    if user is None:
        raise APIError(404, f"no user with handle {handle!r}", param="handle", code="not_found")
    return user


def _exists(db: Session, statement: Any) -> bool:
    return db.scalar(select(statement.exists())) or False


def profile_out(db: Session, user: User, viewer_id: str | None) -> ProfileOut:
    """`user`'s profile with its counts, and how `viewer_id` relates to them."""
    followers = db.scalar(select(func.count()).where(Follow.followee_id == user.id)) or 0
    following = db.scalar(select(func.count()).where(Follow.follower_id == user.id)) or 0
    posts = (
        db.scalar(
            select(func.count()).where(
                Post.user_id == user.id, Post.posted.is_(True), Post.removed.is_(False)
            )
        )
        or 0
    )
    mine = viewer_id is not None and viewer_id != user.id
    return ProfileOut(
        **user_out(user).model_dump(),
        bio=user.bio,
        created_at=user.created_at,
        followers=followers,
        following=following,
        posts=posts,
        followed_by_me=mine
        and _exists(
            db,
            select(Follow.follower_id).where(
                Follow.follower_id == viewer_id, Follow.followee_id == user.id
            ),
        ),
        blocked_by_me=mine
        and _exists(
            db,
            select(Block.user_id).where(Block.user_id == viewer_id, Block.blocked_id == user.id),
        ),
        hidden_by_me=mine
        and _exists(
            db,
            select(HiddenCreator.user_id).where(
                HiddenCreator.user_id == viewer_id, HiddenCreator.creator_id == user.id
            ),
        ),
    )


@router.get("/users/{handle}")
async def profile(handle: str, person: MaybePersonDep, service: StateDep) -> ProfileOut:
    viewer = person.id if person else None
    return await run_db(service, lambda db: profile_out(db, _by_handle(db, handle), viewer))


@router.patch("/me")
async def edit_profile(body: ProfileIn, person: PersonDep, service: StateDep) -> ProfileOut:
    """Change display name and bio; a field left out stays as it is."""

    def work(db: Session) -> ProfileOut:
        user = db.get(User, person.id)
        assert user is not None  # the caller was just authenticated
        if body.display_name is not None:
            user.display_name = body.display_name
        if body.bio is not None:
            user.bio = body.bio
        db.commit()
        return profile_out(db, user, person.id)

    return await run_db(service, work)


def avatar_webp(data: bytes) -> bytes:
    """A PNG, JPEG or WebP image as a 256x256 WebP (cover-cropped, EXIF orientation
    applied). Re-encoding drops anything else the file carried (metadata, trailing data).
    ValueError if it is not one of those images."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in AVATAR_FORMATS:
                raise ValueError(f"a {image.format or 'unknown'} image; send PNG, JPEG or WebP")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"the image is {image.width}x{image.height}; too many pixels")
            image.load()
            oriented = ImageOps.exif_transpose(image)
            mode = "RGBA" if "A" in oriented.getbands() or "transparency" in image.info else "RGB"
            fitted = ImageOps.fit(
                oriented.convert(mode), (AVATAR_SIDE_PX, AVATAR_SIDE_PX), Image.Resampling.LANCZOS
            )
    except ValueError:
        raise
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"not a readable image ({type(error).__name__})") from None
    out = io.BytesIO()
    fitted.save(out, "WEBP", quality=85)
    return out.getvalue()


@router.post("/me/avatar")
async def upload_avatar(
    avatar: Annotated[UploadFile, File(description="PNG, JPEG or WebP, at most 5 MB")],
    person: PersonDep,
    service: StateDep,
) -> ProfileOut:
    """Replace the caller's avatar with a 256x256 WebP made from the upload."""
    data = await avatar.read(AVATAR_MAX_BYTES + 1)
    if len(data) > AVATAR_MAX_BYTES:
        raise APIError(413, "avatar must be at most 5 MB", param="avatar", code="file_too_large")
    try:
        webp = await run_in_threadpool(avatar_webp, data)
    except ValueError as error:
        raise APIError(400, f"avatar: {error}", param="avatar", code="invalid_image") from None
    key = f"avatars/{person.id}-{secrets.token_hex(8)}.webp"
    await run_in_threadpool(_put_bytes, service, key, webp, "image/webp")

    def work(db: Session) -> tuple[ProfileOut, str | None]:
        user = db.get(User, person.id)
        assert user is not None
        old, user.avatar_key = user.avatar_key, key
        db.commit()
        return profile_out(db, user, person.id), old

    out, old = await run_db(service, work)
    if old:
        await run_in_threadpool(service.storage.delete, old)
    return out


def _put_bytes(service: ServiceState, key: str, data: bytes, content_type: str) -> None:
    with tempfile.TemporaryDirectory(prefix="reelforge-avatar-") as tmp:
        path = Path(tmp) / "avatar"
        path.write_bytes(data)
        service.storage.put_file(key, path, content_type)


@router.get("/users/{handle}/avatar", response_class=StreamingResponse)
async def avatar(handle: str, request: Request, service: StateDep) -> Response:
    """The avatar as WebP. Its URL stays the same when it changes, so browsers revalidate
    (ETag) rather than cache it blindly."""
    key = await run_db(service, lambda db: _by_handle(db, handle).avatar_key)
    if not key:
        raise APIError(404, f"@{handle} has no avatar", param="handle", code="not_found")
    etag = f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    handle_io = await run_in_threadpool(service.storage.open, key)
    return StreamingResponse(_chunks(handle_io), media_type="image/webp", headers=headers)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(1 << 16):
            yield chunk


# Settings ---------------------------------------------------------------------------


def _muted(user: User) -> set[str]:
    return set(filter(None, user.muted_notifications.split(",")))


def _settings_out(user: User) -> SettingsOut:
    muted = _muted(user)
    return SettingsOut(
        steering=user.steering,
        notifications={kind: kind not in muted for kind in NOTIFICATION_TYPES},
    )


@router.get("/me/settings")
async def get_settings(person: PersonDep, service: StateDep) -> SettingsOut:
    user = await run_db(service, lambda db: db.get(User, person.id))
    assert user is not None
    return _settings_out(user)


@router.put("/me/settings")
async def put_settings(body: SettingsIn, person: PersonDep, service: StateDep) -> SettingsOut:
    """Steering text (stored as written) and notification types on or off; a type left
    out of `notifications` keeps its setting."""
    changes = body.notifications or {}
    for kind in changes:
        if kind not in NOTIFICATION_TYPES:
            raise APIError(
                400,
                f"notifications.{kind}: unknown notification type; "
                f"the types are {', '.join(NOTIFICATION_TYPES)}",
                param=f"notifications.{kind}",
                code="invalid_value",
            )

    # The phrases' embeddings are made here, once, outside the database work: the feed
    # reads them with the text and never runs the encoder on a request.
    vectors = (
        await run_in_threadpool(steering_blob, body.steering) if body.steering is not None else None
    )

    def work(db: Session) -> SettingsOut:
        user = db.get(User, person.id)
        assert user is not None
        if body.steering is not None:
            user.steering, user.steering_vectors = body.steering, vectors
        muted = _muted(user)
        for kind, on in changes.items():
            (muted.discard if on else muted.add)(kind)
        user.muted_notifications = ",".join(k for k in NOTIFICATION_TYPES if k in muted)
        db.commit()
        return _settings_out(user)

    return await run_db(service, work)


# The social graph -------------------------------------------------------------------


def _other(db: Session, handle: str, me: str, verb: str) -> User:
    """The person `handle` names, who must not be the caller."""
    user = _by_handle(db, handle)
    if user.id == me:
        raise APIError(400, f"you cannot {verb} yourself", param="handle", code="invalid_value")
    return user


def _blocked_either_way(db: Session, a: str, b: str) -> bool:
    return _exists(
        db,
        select(Block.user_id).where(
            or_(
                (Block.user_id == a) & (Block.blocked_id == b),
                (Block.user_id == b) & (Block.blocked_id == a),
            )
        ),
    )


@router.post("/users/{handle}/follow")
async def follow(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    """Follow `handle` (once; following again changes nothing and notifies no one)."""

    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "follow")
        if _blocked_either_way(db, person.id, user.id):
            raise APIError(
                403,
                f"you cannot follow @{handle}: one of you blocked the other",
                param="handle",
                code="blocked",
            )
        if db.get(Follow, (person.id, user.id)) is None:
            db.add(Follow(follower_id=person.id, followee_id=user.id))
            if not _followed_before(db, person.id, user.id):  # follow, unfollow, ... spams
                notify(db, to=user.id, type="follow", actor=person.id)
            _commit_idempotent(db)
        return profile_out(db, user, person.id)

    return await run_db(service, work)


def _followed_before(db: Session, follower: str, followee: str) -> bool:
    return _exists(
        db,
        select(Notification.id).where(
            Notification.user_id == followee,
            Notification.type == "follow",
            Notification.actor_id == follower,
        ),
    )


@router.delete("/users/{handle}/follow")
async def unfollow(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "unfollow")
        db.execute(
            delete(Follow).where(Follow.follower_id == person.id, Follow.followee_id == user.id)
        )
        db.commit()
        return profile_out(db, user, person.id)

    return await run_db(service, work)


@router.post("/users/{handle}/block")
async def block(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    """Block `handle`: follows both ways end, and neither sees the other's posts and
    comments (the feeds and posts routes read the blocks table)."""

    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "block")
        db.execute(
            delete(Follow).where(
                or_(
                    (Follow.follower_id == person.id) & (Follow.followee_id == user.id),
                    (Follow.follower_id == user.id) & (Follow.followee_id == person.id),
                )
            )
        )
        if db.get(Block, (person.id, user.id)) is None:
            db.add(Block(user_id=person.id, blocked_id=user.id))
        _commit_idempotent(db)
        return profile_out(db, user, person.id)

    return await run_db(service, work)


@router.delete("/users/{handle}/block")
async def unblock(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "unblock")
        db.execute(delete(Block).where(Block.user_id == person.id, Block.blocked_id == user.id))
        db.commit()
        return profile_out(db, user, person.id)

    return await run_db(service, work)


@router.post("/users/{handle}/hide")
async def hide(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    """Hide `handle` from the caller's For You (their posts can still be found)."""

    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "hide")
        if db.get(HiddenCreator, (person.id, user.id)) is None:
            db.add(HiddenCreator(user_id=person.id, creator_id=user.id))
        _commit_idempotent(db)
        return profile_out(db, user, person.id)

    return await run_db(service, work)


@router.delete("/users/{handle}/hide")
async def unhide(handle: str, person: PersonDep, service: StateDep) -> ProfileOut:
    def work(db: Session) -> ProfileOut:
        user = _other(db, handle, person.id, "unhide")
        db.execute(
            delete(HiddenCreator).where(
                HiddenCreator.user_id == person.id, HiddenCreator.creator_id == user.id
            )
        )
        db.commit()
        return profile_out(db, user, person.id)

    return await run_db(service, work)


def _commit_idempotent(db: Session) -> None:
    """Commit; a concurrent identical request that inserted the same row first is fine."""
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
