"""People's accounts apart from HTTP: making one, checking a login, roles.

`POST /api/signup` and `reelforge users create` both make a person with `create_person`,
so a handle or password the web refuses is refused on the command line too.

A login is checked in four steps (`check_login`):
1. Find the person by handle. An unknown handle still costs one argon2 verification
   (against a fixed dummy hash), so the answer takes as long whether the handle exists or
   not, and says the same "wrong handle or password".
2. A locked account is refused until its lock ends, even with the right password: that is
   what makes guessing slow.
3. A wrong password counts one failure (in the database, so every server process counts
   towards the same lock); the LOCK_AFTER-th in a row locks the account for LOCK_S.
4. A right password resets the count; a suspended person is refused only now, so the
   refusal never tells a guesser that the handle exists.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reelforge.db.models import User, now_s
from reelforge.errors import InvalidRequest
from reelforge.service.api.schemas import HANDLE_PATTERN
from reelforge.service.auth import ROLES, hash_password, verify_password

LOCK_AFTER = 5  # failures in a row
LOCK_S = 15 * 60
MIN_PASSWORD, MAX_PASSWORD = 10, 200
# Verified against when the handle is unknown, so both answers cost one verification: the
# hash of a random password nobody kept, made once with the hasher's parameters (hashing
# one at import cost every process 0.12 s; a test checks the parameters still match).
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$iJIUx35GLF1CLW+s2Pa+/A$"
    "dMo02P3Kgmj7DCxTiDtil1O8jiv69k/3ViLzyN92FWM"
)


class HandleTaken(InvalidRequest):
    status = 409


def check_handle(handle: str) -> None:
    if not re.fullmatch(HANDLE_PATTERN, handle):
        raise InvalidRequest(
            f"handle must be 3-30 of a-z, 0-9 and _, got {handle!r}",
            param="handle",
            code="invalid_value",
        )


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(
            f"password must be {MIN_PASSWORD}..{MAX_PASSWORD} characters, got {len(password)}",
            param="password",
            code="invalid_value",
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(
            f"role must be one of {', '.join(ROLES)}, got {role!r}",
            param="role",
            code="invalid_value",
        )


def create_person(
    db: Session, handle: str, password: str, *, display_name: str = "", role: str = "user"
) -> User:
    """A new person who can sign in on the web. HandleTaken if the handle is anyone's (an
    API-key user's name included: names are handles). The caller commits; a race with
    another sign-up for the same handle ends in the unique index, which the caller also
    reports as HandleTaken."""
    check_handle(handle)
    check_password(password)
    check_role(role)
    if db.scalar(select(User.id).where(User.name == handle)) is not None:
        raise handle_taken(handle)
    user = User(
        id=f"user_{secrets.token_hex(8)}",
        name=handle,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
    )
    db.add(user)
    db.flush()
    return user


def handle_taken(handle: str) -> HandleTaken:
    return HandleTaken(f"handle {handle!r} is taken", param="handle", code="handle_taken")


def set_role(db: Session, handle: str, role: str) -> User:
    check_role(role)
    user = db.scalar(select(User).where(User.name == handle))
    if user is None:
        raise InvalidRequest(f"no user with handle {handle!r}", param="handle", code="not_found")
    user.role = role
    return user


@dataclass(frozen=True)
class LoginResult:
    outcome: Literal["ok", "wrong", "locked", "suspended"]
    user: User | None = None
    retry_after_s: int = 0


def check_login(db: Session, handle: str, password: str) -> LoginResult:
    """The four steps of the module docstring. Commits the failure count itself, so a
    failure is counted even though the caller answers with an error."""
    # 1. Find the person.
    user = db.scalar(select(User).where(User.name == handle))
    if user is None:
        verify_password(DUMMY_HASH, password)
        return LoginResult("wrong")
    # 2. Locked?
    now = now_s()
    if user.locked_until > now:
        return LoginResult("locked", retry_after_s=user.locked_until - now)
    # 3. Wrong password: count it (an atomic increment: several processes may be counting).
    if not verify_password(user.password_hash, password):
        db.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        )
        db.refresh(user)
        if user.failed_logins >= LOCK_AFTER:
            user.failed_logins, user.locked_until = 0, now + LOCK_S
        db.commit()
        return LoginResult("wrong")
    # 4. Right password.
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, 0
    if user.suspended:
        db.commit()
        return LoginResult("suspended")
    return LoginResult("ok", user)
