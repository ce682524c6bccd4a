"""Cameos as their owners control them: verification's bookkeeping, settings, grants,
casting, approval, and taking down what a withdrawn consent no longer covers.

Casting (`cast`), the rule every video that shows a cameo passes, checks each cameo in
this order and stops at the first rule that blocks:

1. The cameo exists and is usable: not deleted; a person's cameo is verified.
2. The caster is its owner: allowed (the presets are the owner's rules for others).
3. Neither has blocked the other, and the owner is not suspended.
4. The access level: "only_me" blocks everyone else; "everyone" allows; "mutuals"
   allows people who follow the owner and whom the owner follows back; "approved" (and
   "mutuals", for non-mutuals) needs the caster's grant: not revoked, not expired, with
   uses left when it counts them.
5. The presets against the prompt: keyword rules per preset plus the policy engine's
   lexicon (sexual and harassing terms for "no embarrassing or romantic scenes"; extremist
   terms and politicians on the public-figure list for "no political content").
6. Free-text preferences: each "no ..." / "don't ..." / "never ..." phrase is embedded
   (all-MiniLM-L6-v2, as the feed) and compared with the prompt's clauses; a cosine of at
   least `PREFERENCE_SIMILARITY` blocks, as does a clause containing all the phrase's
   content words.

Every decision goes to the cameo's consent log (cameos/consent_log.py) with the rule that
decided it; a blocked cast is committed to the log before the 403 is raised, so the
refusal is on record although nothing is generated. Every use and attempted use by someone
other than the owner is also a webhook event to the owner's address, sent after the commit
(social/cameo_webhooks.py).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reelforge import webhooks
from reelforge.cameos import consent_log
from reelforge.db.models import (
    Block,
    Cameo,
    CameoAccessGrant,
    CameoChallenge,
    CameoUse,
    Follow,
    Post,
    User,
    Video,
    now_s,
)
from reelforge.safety.decision import HATE_HARASSMENT, ILLICIT_EXTREMISM, SEXUAL
from reelforge.service.errors import APIError
from reelforge.social import cameo_webhooks, embedding
from reelforge.social.notify import notify

if TYPE_CHECKING:
    from reelforge.service.deps import ServiceState

ACCESS_LEVELS = ("only_me", "approved", "mutuals", "everyone")
PRESETS = ("no_appearance_changes", "no_embarrassing_or_romantic", "no_political")
USE_STATUSES = ("drafted", "awaiting_approval", "approved", "posted", "removed")

CHALLENGE_TTL_S = 120
CHALLENGES_PER_WINDOW = 5  # per person
CHALLENGE_WINDOW_S = 600
MAX_CAST = 2  # cameos in one video

# all-MiniLM-L6-v2 cosine between a "no ..." phrase and a clause of the prompt at which the
# clause is taken to be what the owner ruled out. Measured: paraphrases score 0.44-0.75
# ("sports" / "plays tennis" 0.44, "horror" / "a scary zombie attack at night" 0.47,
# "smoking" / "smokes a cigarette" 0.75); unrelated clauses 0.05-0.16 ("sports" / "paints
# a portrait" 0.05). Below the lowest paraphrase, well above the unrelated.
PREFERENCE_SIMILARITY = 0.42

MENTION = re.compile(r"(?<![\w@.])@([a-z0-9_]{3,30})\b", re.IGNORECASE)

_PRESET_WORDS = {
    "no_appearance_changes": re.compile(
        r"\b(bald|shaved? head|haircut|dyed?|blond[e]?|redhead|beard\w*|mo?ustache|tattoo\w*|"
        r"make-?up|older|younger|aged|elderly|old (?:man|woman)|fat|fatter|skinny|obese|"
        r"muscular|wrinkl\w*|makeover|transform\w*|turns? into|zombie|costume|disguise\w*|"
        r"wig|plastic surgery|different (?:hair|face|skin))\b",
        re.IGNORECASE,
    ),
    "no_embarrassing_or_romantic": re.compile(
        r"\b(kiss\w*|romanc\w*|romantic|dates?|dating|in love|flirt\w*|cuddl\w*|wedding|"
        r"marr(?:y|ies|ied)|propos\w*|boyfriend|girlfriend|embarrass\w*|humiliat\w*|"
        r"naked|nude|underwear|trips? and falls?|falls? over|slips? on|vomit\w*|fart\w*|"
        r"cr(?:y|ies|ying)|drunk|clown\w*|laughing stock|mock\w*)\b",
        re.IGNORECASE,
    ),
    "no_political": re.compile(
        r"\b(politic\w*|elections?|vot(?:e|es|ing)|campaign\w*|president\w*|senator\w*|"
        r"congress\w*|parliament\w*|prime minister|minister\w*|government\w*|protest\w*|"
        r"rally|democrat\w*|republican\w*|conservative\w*|liberal\w*|socialis\w*|"
        r"communis\w*|propaganda|ballot\w*|endorse\w*|mayor|governor\w*|left-wing|right-wing)\b",
        re.IGNORECASE,
    ),
}
_PRESET_LEXICON = {
    "no_embarrassing_or_romantic": {SEXUAL, HATE_HARASSMENT},
    "no_political": {ILLICIT_EXTREMISM},
}
_PRESET_REASON = {
    "no_appearance_changes": "no changes to their appearance",
    "no_embarrassing_or_romantic": "no embarrassing or romantic scenes",
    "no_political": "no political content",
}
_NEGATION = re.compile(r"^(?:no|not|never|don'?t|do not|please don'?t|without)\s+(.+)$", re.I)
_SHOW_ME = re.compile(
    r"^(?:(?:show|showing|make|making|put|putting|have|let|use|using)\s+)?(?:me|my cameo)\s+|"
    r"^(?:show|showing|make|making|put|putting|have|let|use|using)\s+",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]+|\s+(?:and|while|then|but)\s+", re.IGNORECASE)
_FILLER = frozenset(
    {
        *("a", "an", "the", "me", "my", "mine", "i", "of", "in", "on", "at", "to", "with"),
        *("show", "shows", "showing", "make", "making", "scene", "scenes", "video"),
        *("videos", "clip", "clips", "any", "anything", "please"),
    }
)


def _forbidden(code: int, reason: str, code_name: str = "cameo_not_allowed") -> APIError:
    return APIError(code, reason, param="cameos", code=code_name)


def not_found(handle: str) -> APIError:
    return APIError(404, f"no cameo @{handle}", param="handle", code="not_found")


# Challenges --------------------------------------------------------------------------


def issue_challenge(
    db: Session, user_id: str, digits: str, turns: tuple[str, ...]
) -> CameoChallenge:
    """Store a new challenge for `user_id`; 429 after `CHALLENGES_PER_WINDOW` in the window
    (counted over stored rows, so every server process shares the limit). Commits."""
    since = now_s() - CHALLENGE_WINDOW_S
    recent = list(
        db.scalars(
            select(CameoChallenge.created_at).where(
                CameoChallenge.user_id == user_id, CameoChallenge.created_at > since
            )
        )
    )
    if len(recent) >= CHALLENGES_PER_WINDOW:
        retry_s = min(recent) + CHALLENGE_WINDOW_S - now_s()
        raise APIError(
            429,
            f"at most {CHALLENGES_PER_WINDOW} verification challenges per "
            f"{CHALLENGE_WINDOW_S // 60} minutes; try again in {retry_s} s",
            code="rate_limit_exceeded",
            headers={"retry-after": str(max(retry_s, 1))},
        )
    challenge = CameoChallenge(
        id=f"chal_{secrets.token_hex(12)}",
        user_id=user_id,
        digits=digits,
        turns=",".join(turns),
        created_at=now_s(),
        expires_at=now_s() + CHALLENGE_TTL_S,
    )
    db.add(challenge)
    db.commit()
    return challenge


def use_challenge(db: Session, user_id: str, challenge_id: str) -> CameoChallenge:
    """Mark the caller's challenge used and return it: 400 naming `challenge_id` when it
    is unknown, someone else's, already used or expired. Commits, so a take that fails
    later cannot be retried with the same challenge."""
    challenge = db.get(CameoChallenge, challenge_id)
    problem = None
    if challenge is None or challenge.user_id != user_id:
        problem = f"challenge_id: no challenge {challenge_id!r} of yours"
    elif challenge.used_at is not None:
        problem = "challenge_id: this challenge was already used; ask for a new one"
    elif challenge.expires_at <= now_s():
        problem = f"challenge_id: this challenge expired ({CHALLENGE_TTL_S} s); ask for a new one"
    if problem or challenge is None:
        raise APIError(400, problem or "", param="challenge_id", code="invalid_challenge")
    # Conditional, so two submissions of one challenge at once cannot both pass.
    taken = db.execute(
        update(CameoChallenge)
        .where(CameoChallenge.id == challenge_id, CameoChallenge.used_at.is_(None))
        .values(used_at=now_s())
    )
    db.commit()
    if getattr(taken, "rowcount", 1) != 1:
        raise APIError(
            400,
            "challenge_id: this challenge was already used; ask for a new one",
            param="challenge_id",
            code="invalid_challenge",
        )
    return challenge


# The cameo and its settings ----------------------------------------------------------


def cameo_out(cameo: Cameo) -> dict[str, Any]:
    """As its owner sees it (no likeness features, no storage keys)."""
    return {
        "id": cameo.id,
        "handle": cameo.handle,
        "kind": cameo.kind,
        "display_name": cameo.display_name,
        "access": cameo.access,
        "approve_before_posting": cameo.approve_before_posting,
        "presets": {name: bool(getattr(cameo, name)) for name in PRESETS},
        "preferences": cameo.preferences,
        "verified": cameo.verified_at is not None,
        "verified_at": cameo.verified_at,
        "created_at": cameo.created_at,
    }


def owned_cameo(db: Session, handle: str, owner_id: str, *, deleted: bool = False) -> Cameo:
    """The caller's live cameo `handle` (or a deleted one too, with `deleted`: its consent
    log stays theirs to read); anyone else's is a 404, as if it did not exist."""
    cameo = db.scalar(select(Cameo).where(Cameo.handle == handle.lower().removeprefix("@")))
    gone = cameo is not None and cameo.deleted_at is not None and not deleted
    if cameo is None or cameo.owner_id != owner_id or gone:
        raise not_found(handle)
    return cameo


def person_cameo(db: Session, user: User) -> Cameo:
    """The user's own cameo (kind person, handle = their handle), made unverified on the
    first verification attempt so every attempt has a log to go to. A deleted one comes
    back, unverified and with the default settings."""
    cameo = db.scalar(select(Cameo).where(Cameo.handle == user.name))
    if cameo is not None and (cameo.owner_id != user.id or cameo.kind != "person"):
        raise APIError(
            409,
            f"the handle @{user.name} is taken by a character cameo",
            param="handle",
            code="handle_taken",
        )
    if cameo is None:
        cameo = Cameo(
            id=f"cameo_{secrets.token_hex(12)}",
            owner_id=user.id,
            handle=user.name,
            kind="person",
            display_name=user.display_name or user.name,
            access="only_me",
            preferences="",
        )
        db.add(cameo)
        db.flush()
    elif cameo.deleted_at is not None:
        _reset(cameo)
    return cameo


def _reset(cameo: Cameo) -> None:
    cameo.deleted_at = None
    cameo.verified_at = None
    cameo.access = "only_me"
    cameo.approve_before_posting = False
    cameo.preferences = ""
    cameo.webhook_url = None
    cameo.webhook_secret = None
    for name in PRESETS:
        setattr(cameo, name, False)


def check_figure(db: Session, user: User) -> None:
    """A person's cameo of a public figure is allowed only to the user verified as that
    figure (`users.figure_key`, set by `reelforge cameo verify-figure`): 403 otherwise."""
    from reelforge.safety.resources import text_tools

    tools = text_tools()
    for name in {user.name.replace("_", " "), user.display_name}:
        if not name.strip():
            continue
        for mention in tools.figures.mentions(tools.normalizer.normalize(name)):
            if user.figure_key != mention.figure.key:
                raise APIError(
                    403,
                    f"@{user.name} names {mention.figure.name}, a public figure; a cameo of a "
                    "public figure is only for the person verified as them (ask an operator)",
                    param="handle",
                    code="public_figure",
                )


def record_verification(
    db: Session,
    cameo: Cameo,
    actor_id: str,
    checks: list[dict[str, Any]],
    passed: bool,
    likeness: dict[str, Any] | None,
    take_key: str | None,
) -> str | None:
    """Log the attempt and, when it passed, store the likeness and the take's key. Returns
    the storage key of the take it replaces (the caller deletes it). The caller commits."""
    consent_log.append(
        db,
        cameo.id,
        "verify",
        actor_id=actor_id,
        detail={"passed": passed, "checks": checks},
    )
    if not passed:
        return None
    replaced = cameo.take_key if cameo.take_key != take_key else None
    cameo.likeness_json = json.dumps(likeness) if likeness is not None else None
    cameo.take_key = take_key
    cameo.verified_at = now_s()
    return replaced


def create_character(
    db: Session, owner: User, handle: str, display_name: str, cameo_id: str | None = None
) -> Cameo:
    """A character cameo (a pet, an object, an original). It needs no liveness check, so it
    must not be anyone real: 400 naming the field when its handle or name is a user's
    handle or names someone on the public-figure list; 409 when the handle is taken. A new
    cameo gets `cameo_id` when given (the API's `char_` ids), else a `cameo_` one."""
    from reelforge.safety.resources import text_tools

    handle = handle.lower().removeprefix("@")
    tools = text_tools()
    for field, text in (("handle", handle.replace("_", " ")), ("display_name", display_name)):
        for mention in tools.figures.mentions(tools.normalizer.normalize(text)):
            raise APIError(
                400,
                f"{field}: names {mention.figure.name}, a real person; a character cannot be "
                "a real person (a person verifies their own cameo)",
                param=field,
                code="real_person",
            )
    squashed = re.sub(r"[^a-z0-9_]", "", display_name.lower().replace(" ", "_"))
    for field, name in (("handle", handle), ("display_name", squashed)):
        if name and db.scalar(select(User.id).where(User.name == name)) is not None:
            raise APIError(
                400,
                f"{field}: @{name} is a person's handle; a character cannot be a real person",
                param=field,
                code="real_person",
            )
    taken = db.scalar(select(Cameo).where(Cameo.handle == handle))
    if taken is not None and not (taken.owner_id == owner.id and taken.deleted_at is not None):
        raise APIError(409, f"handle: @{handle} is taken", param="handle", code="handle_taken")
    if taken is None:
        cameo = Cameo(
            id=cameo_id or f"cameo_{secrets.token_hex(12)}",
            owner_id=owner.id,
            handle=handle,
            kind="character",
            access="only_me",
            preferences="",
        )
        db.add(cameo)
        db.flush()
    else:
        cameo = taken
        _reset(cameo)
    cameo.display_name = display_name.strip()
    cameo.verified_at = now_s()  # nothing to verify: its owner made it up
    consent_log.append(
        db, cameo.id, "create", actor_id=owner.id, detail={"kind": "character", "handle": handle}
    )
    return cameo


def update_settings(
    db: Session, cameo: Cameo, actor_id: str, changes: dict[str, Any]
) -> str | None:
    """Apply the changed settings (access, approve_before_posting, presets, preferences,
    webhook_url), logging each change as "setting" with its old and new value. A new
    webhook address gets a new secret, returned (to be shown once) and never logged;
    otherwise None. The caller commits."""
    secret = None
    if "webhook_url" in changes:
        secret = _set_webhook_url(db, cameo, actor_id, changes["webhook_url"])
    for name, value in changes.items():
        if name == "webhook_url":
            continue
        if name == "access" and value not in ACCESS_LEVELS:
            raise APIError(
                400,
                f"access must be one of {', '.join(ACCESS_LEVELS)}, got {value!r}",
                param="access",
                code="invalid_value",
            )
        old = getattr(cameo, name)
        if old == value:
            continue
        setattr(cameo, name, value)
        consent_log.append(
            db,
            cameo.id,
            "setting",
            actor_id=actor_id,
            detail={"name": name, "from": old, "to": value},
        )
    return secret


def _set_webhook_url(db: Session, cameo: Cameo, actor_id: str, value: str | None) -> str | None:
    url = cameo_webhooks.check_url(value)
    if url == cameo.webhook_url:
        return None
    old = cameo.webhook_url
    cameo.webhook_url = url
    cameo.webhook_secret = webhooks.new_secret() if url is not None else None
    consent_log.append(
        db,
        cameo.id,
        "setting",
        actor_id=actor_id,
        # Without query strings, which may hold the receiver's own tokens; no secret.
        detail={
            "name": "webhook_url",
            "from": cameo_webhooks.redacted(old),
            "to": cameo_webhooks.redacted(url),
        },
    )
    return cameo.webhook_secret


def rotate_webhook_secret(db: Session, cameo: Cameo, actor_id: str) -> str:
    """A new secret for the cameo's webhook (the old one stops working at once), logged
    as a setting without either secret. 409 naming `webhook_url` when none is set. The
    caller commits."""
    if cameo.webhook_url is None:
        raise APIError(
            409,
            "webhook_url: set a webhook address first; it comes with its secret",
            param="webhook_url",
            code="no_webhook",
        )
    cameo.webhook_secret = webhooks.new_secret()
    consent_log.append(
        db,
        cameo.id,
        "setting",
        actor_id=actor_id,
        detail={"name": "webhook_secret", "from": "(not logged)", "to": "a new secret"},
    )
    return cameo.webhook_secret


# Grants ------------------------------------------------------------------------------


def grant(
    db: Session,
    cameo: Cameo,
    grantee_handle: str,
    expires_at: int | None,
    uses: int | None,
) -> CameoAccessGrant:
    """Let one person cast the cameo (replacing their previous grant), perhaps until
    `expires_at` or for `uses` videos. The caller commits."""
    grantee = db.scalar(select(User).where(User.name == grantee_handle.lower().removeprefix("@")))
    if grantee is None or grantee.suspended:
        raise APIError(404, f"no user @{grantee_handle}", param="grantee", code="not_found")
    if grantee.id == cameo.owner_id:
        raise APIError(400, "grantee: you always may use your own cameo", param="grantee")
    if expires_at is not None and expires_at <= now_s():
        raise APIError(
            400, f"expires_at must be in the future, got {expires_at}", param="expires_at"
        )
    for previous in _active_grants(db, cameo.id, grantee.id):
        previous.revoked_at = now_s()
    made = CameoAccessGrant(
        id=f"grant_{secrets.token_hex(12)}",
        cameo_id=cameo.id,
        grantee_id=grantee.id,
        expires_at=expires_at,
        uses_left=uses,
    )
    db.add(made)
    db.flush()
    consent_log.append(
        db,
        cameo.id,
        "grant",
        actor_id=cameo.owner_id,
        detail={
            "grant_id": made.id,
            "grantee": grantee.name,
            "expires_at": expires_at,
            "uses": uses,
        },
    )
    return made


def _active_grants(db: Session, cameo_id: str, grantee_id: str) -> list[CameoAccessGrant]:
    return list(
        db.scalars(
            select(CameoAccessGrant).where(
                CameoAccessGrant.cameo_id == cameo_id,
                CameoAccessGrant.grantee_id == grantee_id,
                CameoAccessGrant.revoked_at.is_(None),
            )
        )
    )


def revoke(db: Session, service: ServiceState, cameo: Cameo, grantee_handle: str) -> dict[str, Any]:
    """Withdraw a person's grant and take down every video of theirs that casts the cameo,
    and every remix of those. The owner is told what was removed. Commits."""
    grantee = db.scalar(select(User).where(User.name == grantee_handle.lower().removeprefix("@")))
    grants = _active_grants(db, cameo.id, grantee.id) if grantee is not None else []
    if grantee is None or not grants:
        raise APIError(
            404, f"@{grantee_handle} has no grant to revoke", param="grantee", code="not_found"
        )
    for each in grants:
        each.revoked_at = now_s()
    consent_log.append(
        db,
        cameo.id,
        "revoke",
        actor_id=cameo.owner_id,
        detail={"grantee": grantee.name, "grant_ids": [g.id for g in grants]},
    )
    theirs = db.scalars(
        select(CameoUse.video_id).where(
            CameoUse.cameo_id == cameo.id,
            CameoUse.caster_id == grantee.id,
            CameoUse.status != "removed",
        )
    )
    removed = take_down(db, service, cameo, set(theirs), f"@{grantee.name}'s grant was revoked")
    return {"grantee": grantee.name, "revoked": [g.id for g in grants], "removed_videos": removed}


# Casting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CastCameo:
    """A cameo a video may show, and what allowed it."""

    cameo_id: str
    handle: str
    owner_id: str
    grant_id: str | None
    allowed_by: str  # owner, everyone, mutuals, grant
    needs_approval: bool


def mentioned_handles(prompt: str, cameos: list[str]) -> list[str]:
    """The handles a request names: the `cameos` list, then `@handle`s in the prompt, each
    once, in order."""
    named = [c.strip().lower().removeprefix("@") for c in cameos]
    named += [m.lower() for m in MENTION.findall(prompt)]
    return list(dict.fromkeys(h for h in named if h))


def cast(db: Session, caster_id: str, handles: list[str], prompt: str) -> list[CastCameo]:
    """The cameos `handles` and the prompt's @mentions cast, if `caster_id` may use each of
    them for `prompt` (the module docstring's rules). A blocked cast is logged and committed,
    then raised as 403 `cameo_not_allowed` naming `cameos`; an unknown handle in `handles`
    is a 400; an @mention in the prompt that is no cameo and no user stays plain text."""
    explicit = {c.strip().lower().removeprefix("@") for c in handles}
    wanted = mentioned_handles(prompt, handles)
    found = {c.handle: c for c in db.scalars(select(Cameo).where(Cameo.handle.in_(wanted)))}
    people = set(db.scalars(select(User.name).where(User.name.in_(wanted), ~User.suspended)))
    casting: list[Cameo] = []
    for handle in wanted:
        cameo = found.get(handle)
        if cameo is not None and cameo.deleted_at is None:
            casting.append(cameo)
        elif handle in people:
            raise _forbidden(
                403, f"cameos: @{handle} has no cameo, so their likeness cannot be used"
            )
        elif handle in explicit:
            raise APIError(
                400, f"cameos: no cameo @{handle}", param="cameos", code="unknown_handle"
            )
    if len(casting) > MAX_CAST:
        raise APIError(
            400,
            f"cameos: at most {MAX_CAST} cameos in one video, got {len(casting)}",
            param="cameos",
            code="too_many_cameos",
        )
    out = []
    for cameo in casting:
        decision = _decide(db, cameo, caster_id, prompt)
        if isinstance(decision, str):
            entry = consent_log.append(
                db,
                cameo.id,
                "cast_blocked",
                actor_id=caster_id,
                detail={"rule": decision.split(":")[0], "reason": decision, "prompt": prompt},
            )
            if caster_id != cameo.owner_id:
                cameo_webhooks.queue_event(
                    db,
                    cameo,
                    "cameo.blocked",
                    entry,
                    by=_handle(db, caster_id),
                    prompt=prompt,
                    reason=decision,
                    stage="request",
                )
            db.commit()  # the refusal, and its webhook, even though the request fails
            raise _forbidden(403, f"cameos: @{cameo.handle}: {decision.split(':', 1)[1].strip()}")
        out.append(decision)
    # Appends lock each cameo's row (PostgreSQL): always in id order, so two requests
    # casting the same two cameos never wait on each other crosswise.
    for allowed in sorted(out, key=lambda c: c.cameo_id):
        consent_log.append(
            db,
            allowed.cameo_id,
            "cast_allowed",
            actor_id=caster_id,
            detail={"rule": allowed.allowed_by, "grant_id": allowed.grant_id, "prompt": prompt},
        )
    return out


def _decide(db: Session, cameo: Cameo, caster_id: str, prompt: str) -> CastCameo | str:
    """A CastCameo, or "rule: reason" for the first rule that blocks."""
    # 1. Usable at all.
    if cameo.kind == "person" and cameo.verified_at is None:
        return "unverified: this cameo is not verified yet"
    # 2. The owner.
    if cameo.owner_id == caster_id:
        return CastCameo(cameo.id, cameo.handle, cameo.owner_id, None, "owner", False)
    # 3. Blocks and suspensions.
    owner = db.get(User, cameo.owner_id)
    if owner is None or owner.suspended or _blocked(db, caster_id, cameo.owner_id):
        return "blocked: you may not use this cameo"
    # 4. The access level and grants.
    allowed_by, grant_id = _access(db, cameo, caster_id)
    if allowed_by.startswith("!"):
        return allowed_by[1:]
    # 5-6. The owner's preferences.
    refusal = preference_refusal(cameo, prompt)
    if refusal:
        return refusal
    return CastCameo(
        cameo.id, cameo.handle, cameo.owner_id, grant_id, allowed_by, cameo.approve_before_posting
    )


def _handle(db: Session, user_id: str | None) -> str | None:
    user = db.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else None


def _blocked(db: Session, a: str, b: str) -> bool:
    return (
        db.scalar(
            select(Block.user_id)
            .where(
                or_(
                    (Block.user_id == a) & (Block.blocked_id == b),
                    (Block.user_id == b) & (Block.blocked_id == a),
                )
            )
            .limit(1)
        )
        is not None
    )


def _access(db: Session, cameo: Cameo, caster_id: str) -> tuple[str, str | None]:
    """(what allows it, the grant used); a refusal is "!rule: reason"."""
    if cameo.access == "only_me":
        return "!only_me: its owner keeps it to themself", None
    if cameo.access == "everyone":
        return "everyone", None
    if cameo.access == "mutuals":
        follows = set(
            db.execute(
                select(Follow.follower_id, Follow.followee_id).where(
                    or_(
                        (Follow.follower_id == caster_id) & (Follow.followee_id == cameo.owner_id),
                        (Follow.follower_id == cameo.owner_id) & (Follow.followee_id == caster_id),
                    )
                )
            )
        )
        if len(follows) == 2:
            return "mutuals", None
    grants = sorted(_active_grants(db, cameo.id, caster_id), key=lambda g: g.created_at)
    if not grants:
        who = "people who follow each other with its owner" if cameo.access == "mutuals" else ""
        return (f"!no_grant: its owner allows only {who or 'people they approve'}", None)
    current = grants[-1]
    if current.expires_at is not None and current.expires_at <= now_s():
        return "!grant_expired: your permission to use it has expired", None
    if current.uses_left is not None and current.uses_left <= 0:
        return "!grant_used_up: you have used every video your permission allowed", None
    return "grant", current.id


def preference_refusal(
    cameo: Cameo,
    prompt: str,
    *,
    presets: tuple[str, ...] = PRESETS,
    free_text: bool = True,
) -> str | None:
    """ "rule: reason" when the text goes against the owner's `presets` or (with
    `free_text`) their free-text "no ..." preferences; None when it does not."""
    from reelforge.safety.resources import text_tools

    tools = text_tools()
    normalized = tools.normalizer.normalize(prompt)
    for preset in presets:
        if not getattr(cameo, preset):
            continue
        word = _PRESET_WORDS[preset].search(prompt)
        hits = [
            h.term
            for h in tools.lexicon.hits(normalized)
            if h.category in _PRESET_LEXICON.get(preset, ())
        ]
        politicians = (
            [
                m.figure.name
                for m in tools.figures.mentions(normalized)
                if m.figure.kind == "politician"
            ]
            if preset == "no_political"
            else []
        )
        found = [word.group(0)] if word else hits or politicians
        if found:
            wish = _PRESET_REASON[preset]
            return f"{preset}: its owner asks for {wish} (the text has {found[0]!r})"
    return _free_text_refusal(cameo.preferences, prompt) if free_text else None


def forbidden_phrases(preferences: str) -> list[str]:
    """The subjects of the free text's negative phrases: "no horror, please; don't make me
    dance" → ["horror", "make me dance"]."""
    out = []
    for line in re.split(r"[\n;.!]+|,\s*(?=no\b|not\b|never\b|don'?t\b)", preferences):
        match = _NEGATION.match(line.strip())
        if match:
            subject = re.sub(r"\b(please|thanks?)\b", "", match.group(1), flags=re.I).strip(" ,")
            # "show me playing sports": the subject is "playing sports".
            subject = _SHOW_ME.sub("", subject).strip()
            if subject:
                out.append(subject)
    return out


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if w not in _FILLER and len(w) > 2}


def _free_text_refusal(preferences: str, prompt: str) -> str | None:
    phrases = forbidden_phrases(preferences)
    if not phrases:
        return None
    clauses = [c.strip() for c in _CLAUSE_BREAK.split(MENTION.sub(" ", prompt)) if c.strip()]
    if not clauses:
        return None
    for phrase in phrases:
        words = _content_words(phrase)
        for clause in clauses:
            clause_words = {w.rstrip("s") for w in _content_words(clause)}
            if words and {w.rstrip("s") for w in words} <= clause_words:
                return f"preferences: its owner asks for no {phrase} (the prompt has {clause!r})"
    vectors = embedding.encode(phrases + clauses)  # (P + C, 384), unit norm
    similarity = vectors[: len(phrases)] @ vectors[len(phrases) :].T  # (P, C)
    p, c = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    if similarity[p, c] >= PREFERENCE_SIMILARITY:
        return (
            f"preferences: its owner asks for no {phrases[p]} (the prompt's {clauses[c]!r} is "
            f"that, similarity {similarity[p, c]:.2f})"
        )
    return None


def with_mentions(prompt: str, casts: list[CastCameo]) -> str:
    """The prompt with each cast cameo's @handle in it (the planner reads them)."""
    missing = [f"@{c.handle}" for c in casts if f"@{c.handle}" not in prompt.lower()]
    return " ".join([prompt, *missing])


def record_uses(db: Session, video: Video, casts: list[CastCameo], *, event: str = "draft") -> None:
    """A new video casts these cameos: a use row each (awaiting the owner's approval when
    they asked for it), a grant's use counted, the log, and the owner told (always: the
    "cameo" notification cannot be muted). The caller commits."""
    caster = db.get(User, video.user_id)
    for each in sorted(casts, key=lambda c: c.cameo_id):  # lock order: see `cast`
        status = "awaiting_approval" if each.needs_approval else "drafted"
        db.add(
            CameoUse(
                video_id=video.id,
                cameo_id=each.cameo_id,
                caster_id=video.user_id,
                grant_id=each.grant_id,
                status=status,
            )
        )
        if each.grant_id is not None:
            db.execute(
                update(CameoAccessGrant)
                .where(CameoAccessGrant.id == each.grant_id, CameoAccessGrant.uses_left > 0)
                .values(uses_left=CameoAccessGrant.uses_left - 1)
            )
        entry = consent_log.append(
            db,
            each.cameo_id,
            event,
            actor_id=video.user_id,
            video_id=video.id,
            detail={"grant_id": each.grant_id, "status": status, "prompt": video.prompt},
        )
        cameo = db.get(Cameo, each.cameo_id)
        if cameo is not None and video.user_id != each.owner_id:
            cameo_webhooks.queue_event(
                db,
                cameo,
                "cameo.used",
                entry,
                by=caster.name if caster else None,
                prompt=video.prompt,
                status=status,
            )
        who = f"@{caster.name}" if caster else "someone"
        made = "made a remix" if event == "remix" else "made a draft"
        wait = " It waits for your approval before it can be posted." if each.needs_approval else ""
        notify(
            db,
            to=each.owner_id,
            type="cameo",
            actor=video.user_id,
            video_id=video.id,
            text=f"{who} {made} with your cameo @{each.handle}.{wait}",
        )


def uses_of_video(db: Session, video_id: str) -> list[CameoUse]:
    return list(
        db.scalars(
            select(CameoUse).where(CameoUse.video_id == video_id, CameoUse.status != "removed")
        )
    )


def casts_of_video(db: Session, video_id: str, caster_id: str, prompt: str) -> list[CastCameo]:
    """Cast again, for a remix by `caster_id` of `video_id`: the cameos the source shows
    plus the remix prompt's @mentions, checked against the remix prompt."""
    source_handles = list(
        db.scalars(
            select(Cameo.handle)
            .join(CameoUse, CameoUse.cameo_id == Cameo.id)
            .where(CameoUse.video_id == video_id, CameoUse.status != "removed")
        )
    )
    return cast(db, caster_id, source_handles, prompt)


def recheck(db: Session, video_id: str, caption: str, transcript: list[str]) -> str | None:
    """After generation: each cameo owner's rules against what the clip became (its
    detailed caption and its speech), with the settings they have now. The speech meets
    every preset and the free text; the caption only the content presets (political,
    embarrassing or romantic), since it describes the cast person's own hair, clothes and
    age. A refusal is logged as `cast_blocked` at stage "clip", the use is marked removed,
    and "@handle: reason" returned (the worker fails the job). The caller commits."""
    content_presets = ("no_political", "no_embarrassing_or_romantic")
    said = ". ".join(line.strip() for line in transcript if line.strip())
    for use in uses_of_video(db, video_id):
        cameo = db.get(Cameo, use.cameo_id)
        if cameo is None or cameo.owner_id == use.caster_id:
            continue
        refusal = (preference_refusal(cameo, said) if said else None) or preference_refusal(
            cameo, caption, presets=content_presets, free_text=False
        )
        if refusal is None:
            continue
        rule, reason = refusal.split(":", 1)
        entry = consent_log.append(
            db,
            cameo.id,
            "cast_blocked",
            actor_id=use.caster_id,
            video_id=video_id,
            detail={"rule": rule, "reason": refusal, "stage": "clip"},
        )
        video = db.get(Video, video_id)
        cameo_webhooks.queue_event(
            db,
            cameo,
            "cameo.blocked",
            entry,
            by=_handle(db, use.caster_id),
            prompt=video.prompt if video is not None else None,
            reason=refusal,
            stage="clip",
        )
        use.status = "removed"
        return f"@{cameo.handle}: {reason.strip()}"
    return None


def check_postable(db: Session, video_id: str) -> None:
    """409 `awaiting_cameo_approval` while an owner who asked to approve has not."""
    waiting = db.scalars(
        select(Cameo.handle)
        .join(CameoUse, CameoUse.cameo_id == Cameo.id)
        .where(CameoUse.video_id == video_id, CameoUse.status == "awaiting_approval")
    ).first()
    if waiting is not None:
        raise APIError(
            409,
            f"video {video_id} shows @{waiting}'s cameo, whose owner approves videos before "
            "they are posted; it cannot be posted until they do",
            param="video_id",
            code="awaiting_cameo_approval",
        )


def note_event(db: Session, video_id: str, actor_id: str | None, event: str) -> None:
    """Log `event` (post, download) for every cameo the video shows; posting also moves
    each use to "posted". The caller commits."""
    video = db.get(Video, video_id) if event == "post" else None
    for use in uses_of_video(db, video_id):
        if event == "post":
            use.status = "posted"
        entry = consent_log.append(db, use.cameo_id, event, actor_id=actor_id, video_id=video_id)
        cameo = db.get(Cameo, use.cameo_id)
        if event == "post" and cameo is not None and use.caster_id != cameo.owner_id:
            cameo_webhooks.queue_event(
                db,
                cameo,
                "cameo.posted",
                entry,
                by=_handle(db, use.caster_id),
                prompt=video.prompt if video is not None else None,
                status="posted",
            )


# The owner's view of their cameo's videos --------------------------------------------


def videos_with(db: Session, cameo: Cameo) -> list[dict[str, Any]]:
    """Every video that shows the cameo, others' drafts included, newest first."""
    rows = db.execute(
        select(CameoUse, Video, User)
        .join(Video, Video.id == CameoUse.video_id)
        .join(User, User.id == Video.user_id)
        .where(CameoUse.cameo_id == cameo.id, CameoUse.status != "removed")
        .order_by(Video.sequence.desc())
    )
    live = {
        post.video_id: post.posted and not post.removed
        for post in db.scalars(
            select(Post).where(
                Post.video_id.in_(select(CameoUse.video_id).where(CameoUse.cameo_id == cameo.id))
            )
        )
    }
    return [
        {
            "video_id": video.id,
            "creator": creator.name,
            "created_at": video.created_at,
            "prompt": video.prompt,
            "status": use.status,
            "video_status": video.status,
            "posted": live.get(video.id, False),
            "grant_id": use.grant_id,
        }
        for use, video, creator in rows
    ]


def cameos_of_owner_in(db: Session, video_id: str, owner_id: str) -> list[Cameo]:
    """The owner's live cameos that the video casts (uses not removed): what lets them
    watch and report someone else's draft."""
    return list(
        db.scalars(
            select(Cameo)
            .join(CameoUse, CameoUse.cameo_id == Cameo.id)
            .where(
                CameoUse.video_id == video_id,
                CameoUse.status != "removed",
                Cameo.owner_id == owner_id,
                Cameo.deleted_at.is_(None),
            )
            .order_by(Cameo.id)
        )
    )


def use_of(db: Session, cameo: Cameo, video_id: str) -> CameoUse:
    use = db.scalars(
        select(CameoUse).where(
            CameoUse.cameo_id == cameo.id,
            CameoUse.video_id == video_id,
            CameoUse.status != "removed",
        )
    ).first()
    if use is None:
        raise APIError(
            404, f"no video {video_id!r} with @{cameo.handle}", param="video_id", code="not_found"
        )
    return use


def approve(db: Session, cameo: Cameo, video_id: str) -> CameoUse:
    """The owner approves a video that waits for them; its creator is told. The caller
    commits."""
    use = use_of(db, cameo, video_id)
    if use.status != "awaiting_approval":
        raise APIError(
            409,
            f"video {video_id} is not waiting for approval (it is {use.status})",
            param="video_id",
            code="not_awaiting_approval",
        )
    use.status = "approved"
    entry = consent_log.append(db, cameo.id, "approve", actor_id=cameo.owner_id, video_id=video_id)
    video = db.get(Video, video_id)
    cameo_webhooks.queue_event(
        db,
        cameo,
        "cameo.used",
        entry,
        by=_handle(db, use.caster_id),
        prompt=video.prompt if video is not None else None,
        status="approved",
    )
    notify(
        db,
        to=use.caster_id,
        type="cameo",
        actor=cameo.owner_id,
        video_id=video_id,
        text=f"@{cameo.handle} approved your video; you may post it",
    )
    return use


# Taking down -------------------------------------------------------------------------


def with_remixes(db: Session, video_ids: set[str]) -> list[str]:
    """`video_ids` and every video remixed from them, at any depth (a remix's video names
    its source; its post names parent and root), in breadth-first order."""
    seen = list(dict.fromkeys(sorted(video_ids)))
    frontier = set(seen)
    while frontier:
        children = set(
            db.scalars(select(Video.id).where(Video.remixed_from_video_id.in_(frontier)))
        ) | set(
            db.scalars(
                select(Post.video_id).where(
                    or_(Post.parent_video_id.in_(frontier), Post.root_video_id.in_(frontier))
                )
            )
        )
        frontier = children - set(seen)
        seen += sorted(frontier)
    return seen


def take_down(
    db: Session, service: ServiceState, cameo: Cameo, video_ids: set[str], why: str
) -> list[dict[str, Any]]:
    """Delete these videos and their remixes (drafts and posts, files included), mark their
    uses removed, log each, and tell the owner what was removed. Commits."""
    from reelforge.service.videos import forget_video

    removed = []
    for video_id in with_remixes(db, video_ids):
        video = db.get(Video, video_id)
        db.execute(update(CameoUse).where(CameoUse.video_id == video_id).values(status="removed"))
        if video is None:
            continue
        removed.append({"video_id": video.id, "creator_id": video.user_id, "prompt": video.prompt})
        entry = consent_log.append(
            db,
            cameo.id,
            "video_removed",
            actor_id=cameo.owner_id,
            video_id=video.id,
            detail={"why": why, "remix": video.id not in video_ids},
        )
        if video.user_id != cameo.owner_id:
            cameo_webhooks.queue_event(
                db,
                cameo,
                "cameo.removed",
                entry,
                by=_handle(db, video.user_id),
                prompt=video.prompt,
                reason=why,
            )
        forget_video(db, service, video)  # commits
    if removed:
        notify(
            db,
            to=cameo.owner_id,
            type="cameo",
            actor=None,
            text=f"{why}: removed {len(removed)} video(s) with @{cameo.handle}: "
            + ", ".join(r["video_id"] for r in removed),
        )
    db.commit()
    return removed


def delete_cameo(db: Session, service: ServiceState, cameo: Cameo) -> dict[str, Any]:
    """Delete the cameo: every video that shows it (and their remixes) taken down, every
    grant revoked, the recording and the derived features deleted; the row stays, scrubbed,
    so its consent log still has a subject. Returns the receipt. Commits."""
    video_ids = set(
        db.scalars(
            select(CameoUse.video_id).where(
                CameoUse.cameo_id == cameo.id, CameoUse.status != "removed"
            )
        )
    )
    removed = take_down(db, service, cameo, video_ids, f"you deleted your cameo @{cameo.handle}")
    revoked = []
    for each in db.scalars(
        select(CameoAccessGrant).where(
            CameoAccessGrant.cameo_id == cameo.id, CameoAccessGrant.revoked_at.is_(None)
        )
    ):
        each.revoked_at = now_s()
        revoked.append(each.id)
    recording = cameo.take_key
    if recording is not None:
        service.storage.delete(recording)
    features = ["likeness"] if cameo.likeness_json is not None else []
    cameo.take_key = None
    cameo.likeness_json = None
    cameo.verified_at = None
    # After take_down queued its events: the owner hears of those removals too.
    cameo.webhook_url = None
    cameo.webhook_secret = None
    cameo.deleted_at = now_s()
    receipt = {
        "cameo_id": cameo.id,
        "handle": cameo.handle,
        "deleted_at": cameo.deleted_at,
        "recording_deleted": recording is not None,
        "features_deleted": features,
        "grants_revoked": revoked,
        "videos_removed": removed,
    }
    consent_log.append(
        db,
        cameo.id,
        "delete",
        actor_id=cameo.owner_id,
        detail={k: v for k, v in receipt.items() if k != "videos_removed"}
        | {"videos_removed": [r["video_id"] for r in removed]},
    )
    db.commit()
    return receipt
