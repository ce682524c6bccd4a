"""The content policy's stores in the service database, so every host of a deployment
shares one audit log, one rights registry and one set of cameo grants.

They implement the protocols of `reelforge.safety` (AuditLog, RightsRegistry,
ConsentLookup); the safety package itself knows nothing of the database.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.models import (
    Cameo,
    CameoAccessGrant,
    CameoGrant,
    PolicyAudit,
    RightsEntryRow,
    RightsLicence,
    User,
)
from reelforge.errors import InvalidRequest

if TYPE_CHECKING:
    from reelforge.safety import Decision, PolicyEngine, RightsEntry
    from reelforge.safety.normalize import NormalizedText
    from reelforge.safety.rights import RightsIndex
    from reelforge.settings import Settings

EVERYONE = "*"
INDEX_TTL_S = 2.0  # a registration made on another host is seen within this long


class DatabaseAuditLog:
    """Append-only: one row per decision."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def record(self, decision: Decision) -> None:
        details = {
            "scores": dict(decision.scores),
            "matched": [
                {
                    "kind": f.kind,
                    "category": f.category,
                    "value": f.value,
                    "source": f.source,
                    "blocking": f.blocking,
                }
                for f in decision.matched
            ],
        }
        with self.factory() as session, session.begin():
            session.add(
                PolicyAudit(
                    decided_at=decision.decided_at.timestamp(),
                    requester=decision.requester[:80],
                    stage=decision.stage,
                    text=decision.checked_text,
                    text_sha256=decision.checked_sha256,
                    allowed=decision.allowed,
                    category=decision.category,
                    reason=decision.reason,
                    policy_version=decision.policy_version,
                    details_json=json.dumps(details),
                )
            )


class DatabaseConsent:
    """A public figure consents through their cameos: the user verified as `person_key`
    owns at least one cameo (an API character, as the operator flow made, or a verified
    person cameo) and has allowed the requester: an operator's grant (or one to
    everyone), or their person cameo's access."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def allows(self, person_key: str, requester: str) -> bool:
        with self.factory() as session:
            owner = session.scalars(select(User).where(User.figure_key == person_key)).first()
            if owner is None:
                return False
            # Any cameo of theirs (the API's characters included, as the operator flow had).
            has_cameo = session.scalar(
                select(exists().where(Cameo.owner_id == owner.id, Cameo.deleted_at.is_(None)))
            )
            cameo = session.scalars(
                select(Cameo).where(
                    Cameo.owner_id == owner.id,
                    Cameo.kind == "person",
                    Cameo.verified_at.is_not(None),
                    Cameo.deleted_at.is_(None),
                )
            ).first()
            if not has_cameo and cameo is None:
                return False
            if owner.name == requester:
                return True
            operator_grant = session.scalar(
                select(
                    exists().where(
                        CameoGrant.owner_id == owner.id,
                        CameoGrant.grantee.in_((requester, EVERYONE)),
                    )
                )
            )
            return bool(operator_grant) or (
                cameo is not None and _cameo_allows(session, cameo, requester)
            )

    def verify_figure(self, user_name: str, person_key: str) -> None:
        """Record that `user_name` is the public figure `person_key` (an operator's call)."""
        with self.factory() as session, session.begin():
            user = _user(session, user_name)
            taken = session.scalars(select(User).where(User.figure_key == person_key)).first()
            if taken is not None and taken.id != user.id:
                raise InvalidRequest(
                    f"{person_key!r} is already verified as user {taken.name!r}", param="figure"
                )
            user.figure_key = person_key

    def allow(self, owner_name: str, grantee: str) -> None:
        """Let `grantee` (a user name, or "*" for everyone) use `owner_name`'s cameos."""
        with self.factory() as session, session.begin():
            owner = _user(session, owner_name)
            if session.get(CameoGrant, (owner.id, grantee)) is None:
                session.add(CameoGrant(owner_id=owner.id, grantee=grantee))

    def revoke(self, owner_name: str, grantee: str) -> None:
        with self.factory() as session, session.begin():
            owner = _user(session, owner_name)
            grant = session.get(CameoGrant, (owner.id, grantee))
            if grant is not None:
                session.delete(grant)


def _cameo_allows(session: Session, cameo: Cameo, requester: str) -> bool:
    """The figure's own verified cameo (social/cameos.py) lets `requester` use their
    likeness by name: open to everyone, or a live grant of theirs. Mutuals and presets
    are checked where a cameo is cast by its @handle."""
    if cameo.access == "everyone":
        return True
    if cameo.access == "only_me":
        return False
    now = int(time.time())
    return bool(
        session.scalar(
            select(
                exists().where(
                    CameoAccessGrant.cameo_id == cameo.id,
                    CameoAccessGrant.grantee_id == User.id,
                    User.name == requester,
                    CameoAccessGrant.revoked_at.is_(None),
                    (CameoAccessGrant.expires_at.is_(None)) | (CameoAccessGrant.expires_at > now),
                    (CameoAccessGrant.uses_left.is_(None)) | (CameoAccessGrant.uses_left > 0),
                )
            )
        )
    )


def _user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise InvalidRequest(f"no user named {name!r}", param="user")
    return user


class DatabaseRightsRegistry:
    """Registered names and licences as rows; matching uses the safety package's index,
    rebuilt from the rows when they change (checked at most every INDEX_TTL_S)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        from reelforge.safety.rights import RightsIndex, _default_normalizer

        self.factory = factory
        self._normalizer = _default_normalizer()
        self._keys = RightsIndex((), self._normalizer)  # for .key() only
        self._index: RightsIndex | None = None
        self._version: tuple[int, int] | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def register(
        self,
        holder: str,
        name: str,
        *,
        kind: str,
        aliases: Sequence[str] = (),
        cased: bool = False,
    ) -> RightsEntry:
        from reelforge.safety import RightsEntry
        from reelforge.safety.rights import _check_entry

        key = self._keys.key(name)
        _check_entry(name, kind, key)
        with self.factory() as session, session.begin():
            row = session.get(RightsEntryRow, key)
            if row is not None and row.holder != holder:
                raise InvalidRequest(
                    f"{name!r} is already registered by another holder", param="name"
                )
            if row is None:
                row = RightsEntryRow(key=key)
                session.add(row)
            row.holder, row.name, row.kind = holder, name, kind
            row.aliases, row.cased = "\n".join(aliases), cased
            row.created_at = int(time.time())
        self._checked_at = 0.0  # rebuild on the next match
        return RightsEntry(holder, name, kind, tuple(aliases), cased)

    def grant_licence(self, holder: str, licensee: str, name: str) -> None:
        key = self._keys.key(name)
        with self.factory() as session, session.begin():
            row = session.get(RightsEntryRow, key)
            if row is None or row.holder != holder:
                raise InvalidRequest(f"{holder!r} has not registered {name!r}", param="name")
            if session.get(RightsLicence, (key, licensee)) is None:
                session.add(RightsLicence(key=key, licensee=licensee))

    def holds_licence(self, requester: str, name: str) -> bool:
        key = self._keys.key(name)
        with self.factory() as session:
            row = session.get(RightsEntryRow, key)
            if row is None:
                return False
            return (
                row.holder == requester or session.get(RightsLicence, (key, requester)) is not None
            )

    def match(self, text: NormalizedText) -> list[RightsEntry]:
        return self._current_index().match(text)

    def _current_index(self) -> RightsIndex:
        from reelforge.safety import RightsEntry
        from reelforge.safety.rights import RightsIndex

        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked_at < INDEX_TTL_S:
                return self._index
            with self.factory() as session:
                count, newest = session.execute(
                    select(func.count(), func.max(RightsEntryRow.created_at))
                ).one()
                version = (int(count), int(newest or 0))
                if self._index is None or version != self._version:
                    entries = [
                        RightsEntry(
                            row.holder,
                            row.name,
                            row.kind,
                            tuple(a for a in row.aliases.split("\n") if a),
                            row.cased,
                        )
                        for row in session.scalars(select(RightsEntryRow))
                    ]
                    self._index = RightsIndex(entries, self._normalizer)
                    self._version = version
            self._checked_at = now
            return self._index


def policy_engine(settings: Settings, factory: sessionmaker[Session]) -> PolicyEngine:
    """The policy engine for this deployment: thresholds and moderation endpoint from the
    settings; rights, cameo consent and the audit log in the database."""
    from reelforge.safety import PolicyConfig, PolicyEngine

    config = PolicyConfig(
        harmful_threshold=settings.policy_harmful_threshold,
        embedding_model_dir=settings.embedding_model_dir,
        moderation_url=settings.moderation_url,
        moderation_api_key=settings.moderation_api_key,
        moderation_model=settings.moderation_model,
        moderation_timeout_s=settings.moderation_timeout_s,
        moderation_fail_closed=settings.moderation_fail_closed,
    )
    return PolicyEngine(
        config,
        registry=DatabaseRightsRegistry(factory),
        consent=DatabaseConsent(factory),
        audit=DatabaseAuditLog(factory),
    )
