"""/api/feed: For You (anyone; personal terms once signed in) and Following (signed in).
The ranking and its cursor live in social/feed.py; each page is one piece of database work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from reelforge.service.api.schemas import Page, PostOut
from reelforge.service.auth import MaybePersonDep, PersonDep
from reelforge.service.deps import StateDep, run_db
from reelforge.social import feed

router = APIRouter(prefix="/api/feed", tags=["app: feed"])

# A For You cursor remembers what the session was served (≈ 8 characters an item).
CursorQuery = Annotated[str | None, Query(max_length=4096)]


@router.get("/for-you")
async def for_you(
    service: StateDep,
    person: MaybePersonDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=30)] = 10,
) -> Page[PostOut]:
    """Ranked posts, each with its `why`; pages never repeat an item within a session."""
    viewer_id = person.id if person else None
    return await run_db(service, lambda db: feed.for_you(db, viewer_id, cursor, limit))


@router.get("/following")
async def following(
    service: StateDep,
    person: PersonDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=30)] = 10,
) -> Page[PostOut]:
    """Posts of the people you follow, newest first."""
    return await run_db(service, lambda db: feed.following(db, person.id, cursor, limit))
