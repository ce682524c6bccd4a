"""/api/admin/keys: admins list, create, revoke and rotate API keys (the CLI's
`reelforge keys`, over HTTP). The rules live in db/keys.py.

Admins only; a browser's state-changing call needs its CSRF token like every other
(service/auth.py checks it before this runs). Every change is written to the moderator
audit (`GET /api/moderation/audit`) in the same transaction as the change, with
target_type "api_key": who revoked whose key is never lost. A new key is in the response
once and nowhere else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from reelforge.db import keys
from reelforge.db.models import ModerationAudit
from reelforge.service.api.schemas import Page
from reelforge.service.auth import Person, current_person
from reelforge.service.deps import StateDep, run_db
from reelforge.service.errors import APIError

router = APIRouter(prefix="/api/admin/keys", tags=["app: admin"])


async def current_admin(person: Annotated[Person, Depends(current_person)]) -> Person:
    if person.role != "admin":
        raise APIError(403, "only admins may manage API keys", code="not_an_admin")
    return person


AdminDep = Annotated[Person, Depends(current_admin)]


# Schemas here rather than in schemas.py: only this router speaks them.
class KeyOut(BaseModel):
    id: str
    user: str  # handle
    prefix: str  # the key's first characters, to tell keys apart; never the key
    created_at: int
    revoked: bool


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 400 naming it

    user: str = Field(min_length=1, max_length=80, description="the user's name (handle)")


class KeyIssued(BaseModel):
    """A new key: `key` is shown this once. After a rotation, `replaces` is the key that
    was revoked."""

    key: str
    api_key: KeyOut
    replaces: KeyOut | None = None


def _out(info: keys.KeyInfo) -> KeyOut:
    return KeyOut(
        id=info.id,
        user=info.user,
        prefix=info.prefix,
        created_at=info.created_at,
        revoked=info.revoked,
    )


def _audit(db: Session, admin: Person, action: str, info: keys.KeyInfo, note: str) -> None:
    db.add(
        ModerationAudit(
            moderator_id=admin.id,
            action=action,
            target_type="api_key",
            target_id=info.id,
            note=note,
        )
    )


@router.get("")
async def list_keys(
    admin: AdminDep,
    service: StateDep,
    user: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    all: bool = False,  # the CLI's --all
) -> Page[KeyOut]:
    """Live keys, newest first (revoked ones too with `all=true`), of everyone or of
    `user`. One page: an installation has keys in the hundreds, not millions."""

    def work(db: Session) -> Page[KeyOut]:
        rows = keys.list_keys(db, user_name=user, include_revoked=all)
        return Page(data=[_out(row) for row in rows], next_cursor=None)

    return await run_db(service, work)


@router.post("")
async def create_key(body: KeyCreate, admin: AdminDep, service: StateDep) -> KeyIssued:
    """A new key for an existing user (404 naming `user` for anyone else)."""

    def work(db: Session) -> KeyIssued:
        key, info = keys.create_key_for_existing(db, body.user)
        _audit(db, admin, "key_create", info, f"new API key {info.prefix}... for {info.user}")
        db.commit()
        return KeyIssued(key=key, api_key=_out(info))

    return await run_db(service, work)


@router.post("/{key_id}/revoke")
async def revoke_key(key_id: str, admin: AdminDep, service: StateDep) -> KeyOut:
    """Revoke at once: the next request with the key is a 401. Revoking a revoked key
    answers the same and audits nothing new."""

    def work(db: Session) -> KeyOut:
        info, already = keys.revoke_key(db, key_id)
        if not already:
            _audit(db, admin, "key_revoke", info, f"revoked {info.prefix}... of {info.user}")
        db.commit()
        return _out(info)

    return await run_db(service, work)


@router.post("/{key_id}/rotate")
async def rotate_key(key_id: str, admin: AdminDep, service: StateDep) -> KeyIssued:
    """A new key for the key's user; the old one revoked in the same transaction (409
    for a key already revoked)."""

    def work(db: Session) -> KeyIssued:
        key, new, old = keys.rotate_key(db, key_id)
        _audit(db, admin, "key_rotate", old, f"replaced by {new.id} ({new.prefix}...)")
        db.commit()
        return KeyIssued(key=key, api_key=_out(new), replaces=_out(old))

    return await run_db(service, work)
