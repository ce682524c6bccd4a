"""/api/cameos: verifying a likeness, and everything its owner controls (docs/CAMEOS.md).

The rules live in social/cameos.py and the consent log in cameos/consent_log.py; a route
checks who is calling, runs the database work, and serialises (the rules build plain
dicts; each route's `response_model`, in schemas.py, checks them and publishes their
shape). Another person's cameo is a 404 on every owner route, exactly like a handle that
does not exist.

Verification answers 200 whether the take passed or not ({"passed": false, "checks":
[...]}, each check with why): a failed check is a result the page shows beside the
recording, not a malformed request. A take that cannot be read as a video with audio, or
is not 5-15 s long, is a 422 naming `take`; a wrong, used or expired challenge a 400
naming `challenge_id`. Every attempt goes to the cameo's consent log.

A webhook's secret is shown once, in the answer that made it (a PATCH that set a new
`webhook_url`, or `…/webhook/rotate`); reading the cameo says only whether one is set.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from reelforge.cameos import consent_log
from reelforge.db.models import Cameo, CameoAccessGrant, User
from reelforge.errors import MediaError
from reelforge.extras import require
from reelforge.media import probe
from reelforge.service.api.schemas import (
    HANDLE_PATTERN,
    CameoDeletedOut,
    CameoDetailOut,
    CameoListOut,
    CameoOut,
    CameoUpdatedOut,
    CameoVerificationOut,
    CameoVideoApprovedOut,
    CameoVideoDeletedOut,
    CameoVideosOut,
    ChallengeOut,
    ConsentLogOut,
    GrantOut,
    GrantRevokedOut,
    WebhookSecretOut,
    WebhookTestOut,
)
from reelforge.service.auth import PersonDep
from reelforge.service.deps import StateDep, run_db, upload_on_disk
from reelforge.service.errors import APIError
from reelforge.service.forms import read_form
from reelforge.service.v1_schemas import request_body
from reelforge.social import cameo_webhooks
from reelforge.social import cameos as rules

router = APIRouter(prefix="/api/cameos", tags=["app: cameos"])

MAX_TAKE_BYTES = 50 * 1024 * 1024
TAKE_SECONDS = (5.0, 15.0)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterIn(_In):
    handle: str = Field(pattern=HANDLE_PATTERN, description="3-30 of a-z, 0-9, _")
    display_name: str = Field(min_length=1, max_length=80)


class CameoSettingsIn(_In):
    """Only the fields sent change."""

    access: Literal["only_me", "approved", "mutuals", "everyone"] | None = None
    approve_before_posting: bool | None = None
    no_appearance_changes: bool | None = None
    no_embarrassing_or_romantic: bool | None = None
    no_political: bool | None = None
    preferences: str | None = Field(default=None, max_length=2000)
    webhook_url: str | None = Field(
        default=None,
        description='http(s) URL told of every use by someone else; "" or null removes it',
    )


class GrantIn(_In):
    expires_at: int | None = Field(default=None, description="Unix time, s; none: no expiry")
    uses: int | None = Field(default=None, ge=1, le=10_000, description="none: unlimited")


# For the OpenAPI document only (like v1_schemas.VideoCreateForm): /verify reads its form
# itself, so its checks answer in the order and words the verification page shows.
class TakeIn(BaseModel):
    """The take to check, as multipart/form-data; other fields are ignored."""

    challenge_id: str = Field(description="the id POST /api/cameos/challenge answered")
    take: Any = Field(
        description=f"the recording: a {TAKE_SECONDS[0]:g}-{TAKE_SECONDS[1]:g} s video with "
        f"audio, at most {MAX_TAKE_BYTES // (1024 * 1024)} MB",
        json_schema_extra={"type": "string", "format": "binary"},
    )


# Verification ------------------------------------------------------------------------


@router.post("/challenge", response_model=ChallengeOut)
async def new_challenge(person: PersonDep, service: StateDep) -> dict[str, Any]:
    """Digits to read aloud and head turns to make, in order, in one take recorded within
    two minutes. Rate-limited per person."""
    require("cameos", "cameo verification")
    from reelforge.cameos.liveness import new_challenge as draw  # loads its models lazily

    challenge = draw()

    def work(db: Session) -> dict[str, Any]:
        made = rules.issue_challenge(db, person.id, challenge.digits, challenge.turns)
        return {
            "id": made.id,
            "digits": " ".join(made.digits.replace(" ", "")),
            "turns": made.turns.split(","),
            "expires_at": made.expires_at,
        }

    return await run_db(service, work)


@router.post(
    "/verify",
    response_model=CameoVerificationOut,
    openapi_extra=request_body(TakeIn, uploads=True),
)
async def verify(request: Request, person: PersonDep, service: StateDep) -> dict[str, Any]:
    """Check a take (multipart: challenge_id, take) and, when every check passes, make the
    caller's person cameo from it (or refresh it)."""
    require("cameos", "cameo verification")  # before the challenge is used up
    # 1. The form.
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise APIError(
            400,
            "send challenge_id and take as multipart/form-data",
            code="unsupported_content_type",
        )
    if int(request.headers.get("content-length") or 0) > MAX_TAKE_BYTES + 1_000_000:
        raise _too_large()
    form = await read_form(request)
    challenge_id = form.get("challenge_id")
    if not isinstance(challenge_id, str) or not challenge_id.strip():
        raise APIError(400, "challenge_id is required", param="challenge_id", code="invalid_value")
    take = form.get("take")
    if not isinstance(take, UploadFile):
        raise APIError(
            400, "take is required: a 5-15 s video with audio", param="take", code="invalid_value"
        )
    if take.size is not None and take.size > MAX_TAKE_BYTES:
        raise _too_large()

    # 2. The challenge (used up now, whatever the take turns out to be) and the cameo.
    def start(db: Session) -> tuple[str, str, tuple[str, ...]]:
        challenge = rules.use_challenge(db, person.id, challenge_id.strip())
        user = db.get(User, person.id)
        assert user is not None
        rules.check_figure(db, user)
        cameo = rules.person_cameo(db, user)
        db.commit()
        return cameo.id, challenge.digits, tuple(challenge.turns.split(","))

    cameo_id, digits, turns = await run_db(service, start)

    # 3. The checks, off the event loop; the take is stored only when they pass.
    async with upload_on_disk(take) as path:
        outcome = await run_in_threadpool(_check, path, digits, turns)
        take_key = None
        if outcome["passed"]:
            take_key = f"cameos/{cameo_id}/take-{secrets.token_hex(8)}.mp4"
            await run_in_threadpool(service.storage.put_file, take_key, path, "video/mp4")

    # 4. The log, and the likeness.
    def finish(db: Session) -> dict[str, Any]:
        cameo = db.get(Cameo, cameo_id)
        assert cameo is not None
        replaced = rules.record_verification(
            db,
            cameo,
            person.id,
            outcome["checks"],
            outcome["passed"],
            outcome["likeness"],
            take_key,
        )
        db.commit()
        if replaced:
            service.storage.delete(replaced)
        return {
            "passed": outcome["passed"],
            "checks": outcome["checks"],
            "cameo": rules.cameo_out(cameo),
        }

    result = await run_db(service, finish)
    if outcome["unreadable"]:
        raise APIError(422, f"take: {outcome['unreadable']}", param="take", code="invalid_take")
    return result


def _too_large() -> APIError:
    return APIError(
        413,
        f"take must be at most {MAX_TAKE_BYTES // (1024 * 1024)} MB",
        param="take",
        code="file_too_large",
    )


def _check(path: Path, digits: str, turns: tuple[str, ...]) -> dict[str, Any]:
    """Run the liveness checks; an unreadable take or one of the wrong length is a failed
    "readable" check, with `unreadable` saying why (the route answers 422)."""
    from reelforge.cameos.liveness import Challenge, check_take  # imports torch: when used

    def unreadable(why: str) -> dict[str, Any]:
        check = {"name": "readable", "passed": False, "detail": why}
        return {"passed": False, "checks": [check], "likeness": None, "unreadable": why}

    try:
        info = probe(path)
    except MediaError:
        return unreadable("not a readable video file")
    if info.audio_codec is None:
        return unreadable("the take has no audio track; record it with the microphone on")
    low, high = TAKE_SECONDS
    if not low <= info.duration_s <= high:
        return unreadable(f"a take is {low:g}-{high:g} s long, got {info.duration_s:.1f} s")
    try:
        verdict = check_take(path, Challenge(digits=digits, turns=turns))
    except MediaError as error:
        return unreadable(str(error))
    checks = [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in verdict.checks]
    likeness = verdict.likeness.as_dict() if verdict.likeness is not None else None
    return {"passed": verdict.passed, "checks": checks, "likeness": likeness, "unreadable": None}


# Characters and the owner's cameos ---------------------------------------------------


@router.post("/characters", response_model=CameoOut)
async def create_character(
    body: CharacterIn, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    """A character cameo: a pet, an object or an original character (never a real
    person); only its owner may cast it until they open it up."""

    def work(db: Session) -> dict[str, Any]:
        owner = db.get(User, person.id)
        assert owner is not None
        cameo = rules.create_character(db, owner, body.handle, body.display_name)
        db.commit()
        return rules.cameo_out(cameo)

    return await run_db(service, work)


@router.get("", response_model=CameoListOut)
async def list_cameos(person: PersonDep, service: StateDep) -> dict[str, Any]:
    def work(db: Session) -> dict[str, Any]:
        mine = db.scalars(
            select(Cameo)
            .where(Cameo.owner_id == person.id, Cameo.deleted_at.is_(None))
            .order_by(Cameo.created_at)
        )
        return {"data": [rules.cameo_out(c) for c in mine]}

    return await run_db(service, work)


@router.get("/{handle}", response_model=CameoDetailOut)
async def get_cameo(handle: str, person: PersonDep, service: StateDep) -> dict[str, Any]:
    return await run_db(
        service, lambda db: _with_grants(db, rules.owned_cameo(db, handle, person.id))
    )


# Unset fields are left out: `webhook_secret` is absent, not null, unless this change made one.
@router.patch("/{handle}", response_model=CameoUpdatedOut, response_model_exclude_unset=True)
async def update_cameo(
    handle: str, body: CameoSettingsIn, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    if "webhook_url" in body.model_fields_set:  # null is sent to remove it
        changes["webhook_url"] = body.webhook_url

    def work(db: Session) -> dict[str, Any]:
        cameo = rules.owned_cameo(db, handle, person.id)
        if "webhook_url" in changes:  # SSRF: a public address only (resolves it: a thread)
            cameo_webhooks.check_public(
                cameo_webhooks.check_url(changes["webhook_url"]),
                allow_private=service.settings.webhook_allow_private,
            )
        secret = rules.update_settings(db, cameo, person.id, changes)
        db.commit()
        shown_once = {"webhook_secret": secret} if secret is not None else {}
        return _with_grants(db, cameo) | shown_once

    return await run_db(service, work)


@router.post("/{handle}/webhook/rotate", response_model=WebhookSecretOut)
async def rotate_webhook_secret(
    handle: str, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    """A new secret for the cameo's webhook, shown this once; the old one stops working."""

    def work(db: Session) -> dict[str, Any]:
        cameo = rules.owned_cameo(db, handle, person.id)
        secret = rules.rotate_webhook_secret(db, cameo, person.id)
        db.commit()
        return {"webhook_url": cameo.webhook_url, "webhook_secret": secret}

    return await run_db(service, work)


@router.post("/{handle}/webhook/test", response_model=WebhookTestOut)
async def test_webhook(handle: str, person: PersonDep, service: StateDep) -> dict[str, Any]:
    """Send one signed "cameo.test" event now, once, and answer what the receiver said:
    {delivered, status, detail, event_id}."""

    def read(db: Session) -> tuple[str, str, str]:
        cameo = rules.owned_cameo(db, handle, person.id)
        if cameo.webhook_url is None or cameo.webhook_secret is None:
            raise APIError(
                409,
                "webhook_url: set a webhook address first",
                param="webhook_url",
                code="no_webhook",
            )
        return cameo.webhook_url, cameo.webhook_secret, cameo.handle

    url, secret, cameo_handle = await run_db(service, read)
    return await run_in_threadpool(
        lambda: cameo_webhooks.send_test(
            url, secret, cameo_handle, allow_private=service.settings.webhook_allow_private
        )
    )


def _with_grants(db: Session, cameo: Cameo) -> dict[str, Any]:
    rows = db.execute(
        select(CameoAccessGrant, User.name)
        .join(User, User.id == CameoAccessGrant.grantee_id)
        .where(CameoAccessGrant.cameo_id == cameo.id, CameoAccessGrant.revoked_at.is_(None))
        .order_by(CameoAccessGrant.created_at)
    )
    grants = [
        {
            "id": g.id,
            "grantee": name,
            "expires_at": g.expires_at,
            "uses_left": g.uses_left,
            "created_at": g.created_at,
        }
        for g, name in rows
    ]
    webhook = {
        "webhook_url": cameo.webhook_url,
        "webhook_secret_set": cameo.webhook_secret is not None,
    }
    return rules.cameo_out(cameo) | webhook | {"grants": grants}


@router.post("/{handle}/grants/{grantee}", response_model=GrantOut)
async def add_grant(
    handle: str,
    grantee: str,
    person: PersonDep,
    service: StateDep,
    body: GrantIn | None = None,
) -> dict[str, Any]:
    """Let one person cast the cameo, perhaps until `expires_at` or for `uses` videos."""
    choice = body or GrantIn()

    def work(db: Session) -> dict[str, Any]:
        cameo = rules.owned_cameo(db, handle, person.id)
        made = rules.grant(db, cameo, grantee, choice.expires_at, choice.uses)
        db.commit()
        return {
            "id": made.id,
            "grantee": grantee.lower().removeprefix("@"),
            "expires_at": made.expires_at,
            "uses_left": made.uses_left,
        }

    return await run_db(service, work)


@router.delete("/{handle}/grants/{grantee}", response_model=GrantRevokedOut)
async def revoke_grant(
    handle: str, grantee: str, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    """Withdraw the grant; every video of theirs with the cameo, and every remix of those,
    is taken down. Answers what was removed."""
    return await run_db(
        service,
        lambda db: rules.revoke(db, service, rules.owned_cameo(db, handle, person.id), grantee),
    )


@router.get("/{handle}/videos", response_model=CameoVideosOut)
async def cameo_videos(handle: str, person: PersonDep, service: StateDep) -> dict[str, Any]:
    """Every video with the cameo, others' drafts included: who, when, the prompt, where
    it stands."""
    return await run_db(
        service,
        lambda db: {"data": rules.videos_with(db, rules.owned_cameo(db, handle, person.id))},
    )


@router.delete("/{handle}/videos/{video_id}", response_model=CameoVideoDeletedOut)
async def delete_cameo_video(
    handle: str, video_id: str, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    """The owner deletes a video with their cameo, whoever made it (and its remixes)."""

    def work(db: Session) -> dict[str, Any]:
        cameo = rules.owned_cameo(db, handle, person.id)
        rules.use_of(db, cameo, video_id)
        removed = rules.take_down(
            db, service, cameo, {video_id}, f"you deleted a video with @{cameo.handle}"
        )
        return {"id": video_id, "deleted": True, "removed_videos": removed}

    return await run_db(service, work)


@router.post("/{handle}/videos/{video_id}/approve", response_model=CameoVideoApprovedOut)
async def approve_video(
    handle: str, video_id: str, person: PersonDep, service: StateDep
) -> dict[str, Any]:
    def work(db: Session) -> dict[str, Any]:
        use = rules.approve(db, rules.owned_cameo(db, handle, person.id), video_id)
        db.commit()
        return {"video_id": video_id, "status": use.status}

    return await run_db(service, work)


@router.delete("/{handle}", response_model=CameoDeletedOut)
async def delete_cameo(handle: str, person: PersonDep, service: StateDep) -> dict[str, Any]:
    """Delete the cameo, its recording and its derived features, and take down every
    video with it. Answers the receipt."""
    return await run_db(
        service,
        lambda db: rules.delete_cameo(db, service, rules.owned_cameo(db, handle, person.id)),
    )


@router.get("/{handle}/log", response_model=ConsentLogOut)
async def cameo_log(handle: str, person: PersonDep, service: StateDep) -> dict[str, Any]:
    """The consent log as JSON, with the chain's own check (anyone can redo it: see
    cameos/consent_log.py); still there after the cameo is deleted."""

    def work(db: Session) -> dict[str, Any]:
        cameo = rules.owned_cameo(db, handle, person.id, deleted=True)
        chain = consent_log.entries(db, cameo.id)
        problems = consent_log.verify_chain(chain)
        return {
            "cameo_id": cameo.id,
            "handle": cameo.handle,
            "deleted": cameo.deleted_at is not None,
            "intact": not problems,
            "problems": problems,
            "entries": [consent_log.export(e) for e in chain],
        }

    return await run_db(service, work)
