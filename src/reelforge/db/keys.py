"""Users and API keys. Keys are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import ApiKey, User


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, user_name: str) -> str:
    """A new API key for `user_name` (the user is created if new). Returns the key."""
    user = session.scalars(select(User).where(User.name == user_name)).first()
    if user is None:
        user = User(id=f"user_{secrets.token_hex(8)}", name=user_name)
        session.add(user)
        session.flush()
    key = f"rf_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            id=f"key_{secrets.token_hex(8)}",
            user_id=user.id,
            key_hash=hash_key(key),
            prefix=key[:10],
        )
    )
    return key


def user_for_key(session: Session, key: str) -> User | None:
    """The user an unrevoked key belongs to (one query), or None."""
    return session.scalars(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked.is_(False))
    ).first()
