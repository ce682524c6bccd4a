"""Users and API keys. Keys are shown once and stored as SHA-256 hashes.

An operator manages them from the CLI (`reelforge keys create|list|revoke|rotate`) and an
admin over the API (service/api/keys.py); both call these functions. A revoked key stays
in the table (the list shows who had what) but `user_for_key` no longer finds it, so the
next request made with it is a 401. Rotating revokes the old key and issues the new one in
the caller's one transaction: there is no moment with both keys live, or with neither.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import ApiKey, User
from reelforge.errors import ReelforgeError


class NotFound(ReelforgeError):
    """No API key by that id, or no user by that name; nothing was changed."""

    status = 404
    type = "invalid_request_error"
    exit_code = 1


class KeyRevoked(ReelforgeError):
    """The key was revoked, so it cannot be rotated; nothing was changed."""

    status = 409
    type = "invalid_request_error"
    exit_code = 1


@dataclass(frozen=True)
class KeyInfo:
    """One key as an operator sees it: never the key, only its first characters."""

    id: str
    user: str  # the user's name
    prefix: str
    created_at: int  # Unix seconds
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _issue(session: Session, user: User) -> tuple[str, ApiKey]:
    key = f"rf_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=f"key_{secrets.token_hex(8)}", user_id=user.id, key_hash=hash_key(key), prefix=key[:10]
    )
    session.add(row)
    session.flush()  # created_at is filled in
    return key, row


def _info(row: ApiKey, user_name: str) -> KeyInfo:
    return KeyInfo(row.id, user_name, row.prefix, row.created_at, row.revoked)


def create_key(session: Session, user_name: str) -> str:
    """A new API key for `user_name` (the user is created if new). Returns the key."""
    user = session.scalars(select(User).where(User.name == user_name)).first()
    if user is None:
        user = User(id=f"user_{secrets.token_hex(8)}", name=user_name)
        session.add(user)
        session.flush()
    return _issue(session, user)[0]


def create_key_for_existing(session: Session, user_name: str) -> tuple[str, KeyInfo]:
    """A new API key for the existing user `user_name` (NotFound if there is none: an
    admin's typo must not create an account). Returns the key and its listing."""
    user = session.scalars(select(User).where(User.name == user_name)).first()
    if user is None:
        raise NotFound(f"user: no user named {user_name!r}", param="user", code="unknown_user")
    key, row = _issue(session, user)
    return key, _info(row, user.name)


def list_keys(
    session: Session, *, user_name: str | None = None, include_revoked: bool = False
) -> list[KeyInfo]:
    """Keys, newest first; only live ones unless `include_revoked`. NotFound (param
    `user`) for a user name that does not exist, rather than an empty list that reads
    like "this user has no keys"."""
    query = select(ApiKey, User.name).join(User, User.id == ApiKey.user_id)
    if user_name is not None:
        if session.scalars(select(User.id).where(User.name == user_name)).first() is None:
            raise NotFound(f"user: no user named {user_name!r}", param="user", code="unknown_user")
        query = query.where(User.name == user_name)
    if not include_revoked:
        query = query.where(ApiKey.revoked.is_(False))
    rows = session.execute(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()
    return [_info(row, name) for row, name in rows]


def _locked_key(session: Session, key_id: str) -> tuple[ApiKey, str]:
    """The key row (locked for the rest of the transaction where the database can) and
    its user's name; NotFound for an id that does not exist."""
    found = session.execute(
        select(ApiKey, User.name)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.id == key_id)
        .with_for_update(of=ApiKey)
    ).first()
    if found is None:
        raise NotFound(f"key_id: no API key {key_id!r}", param="key_id", code="unknown_key")
    return found[0], found[1]


def revoke_key(session: Session, key_id: str) -> tuple[KeyInfo, bool]:
    """Revoke the key `key_id`. Returns its listing and whether it was already revoked
    (revoking twice changes nothing and is not an error)."""
    row, user_name = _locked_key(session, key_id)
    already = row.revoked
    row.revoked = True
    return _info(row, user_name), already


def rotate_key(session: Session, key_id: str) -> tuple[str, KeyInfo, KeyInfo]:
    """A new key for the same user, the old one revoked, in the caller's transaction.
    Returns (the new key, its listing, the old key's listing). KeyRevoked for a key that
    is already revoked: rotating it would hand out access someone took away."""
    row, user_name = _locked_key(session, key_id)
    if row.revoked:
        raise KeyRevoked(
            f"key_id: API key {key_id} is revoked; create a new key for {user_name} instead",
            param="key_id",
            code="key_revoked",
        )
    row.revoked = True
    user = session.get(User, row.user_id)
    assert user is not None  # a foreign key
    key, new_row = _issue(session, user)
    return key, _info(new_row, user_name), _info(row, user_name)


def user_for_key(session: Session, key: str) -> User | None:
    """The user an unrevoked key belongs to (one query), or None."""
    return session.scalars(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked.is_(False))
    ).first()
