"""Tables. A video's row is the truth about its job: status, progress, attempts, error."""

from __future__ import annotations

import time

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now_s() -> int:
    return int(time.time())


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    # The public figure this user was verified to be (a key of the public figures list);
    # only they can consent to others using their likeness, through their cameos.
    figure_key: Mapped[str | None] = mapped_column(String(80), nullable=True, unique=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; never the key
    prefix: Mapped[str] = mapped_column(String(12))  # for listing: "rf_ab12cd…"
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(32))
    prompt: Mapped[str] = mapped_column(Text)
    size: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[str] = mapped_column(String(8))
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s, index=True)
    completed_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remixed_from_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    plan_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Remixes, edits and extensions start from another video's plan.
    kind: Mapped[str] = mapped_column(String(16), default="create")
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    base_plan_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Image-to-video: the storage key of the uploaded first frame (content-addressed, so
    # remixes share it).
    input_reference_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sequence: Mapped[int] = mapped_column(BigInteger, index=True, default=0)  # creation, ns


class Character(Base):
    """A cameo: a person's likeness from a short video they uploaded."""

    __tablename__ = "characters"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    video_key: Mapped[str] = mapped_column(String(200))  # the upload, in storage
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class Watermark(Base):
    """The provenance registry: which clip carries which watermark payload, so a copy whose
    C2PA manifest was stripped can still be traced from the mark alone."""

    __tablename__ = "watermarks"

    payload: Mapped[str] = mapped_column(String(16), primary_key=True)  # 64 bits, hex
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    creator: Mapped[str | None] = mapped_column(String(80), nullable=True)
    engine: Mapped[str] = mapped_column(String(32))
    prompt_sha256: Mapped[str] = mapped_column(String(64))  # the prompt itself is not kept here
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)  # the signed MP4
    manifest_label: Mapped[str | None] = mapped_column(String(120), nullable=True)
    parent_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s, index=True)


class CameoGrant(Base):
    """Who may use a user's cameos: a user name, or "*" for everyone."""

    __tablename__ = "cameo_grants"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    grantee: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class RightsEntryRow(Base):
    """A protected name (character, brand, work, musician) registered by its holder."""

    __tablename__ = "rights_entries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # normalised name
    holder: Mapped[str] = mapped_column(String(80), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    aliases: Mapped[str] = mapped_column(Text, default="")  # one per line
    cased: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class RightsLicence(Base):
    __tablename__ = "rights_licences"

    key: Mapped[str] = mapped_column(ForeignKey("rights_entries.key"), primary_key=True)
    licensee: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class PolicyAudit(Base):
    """Every policy decision: who, what, when, outcome (append-only)."""

    __tablename__ = "policy_audit"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    decided_at: Mapped[float] = mapped_column(Float, index=True)  # Unix time, UTC
    requester: Mapped[str] = mapped_column(String(80), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool] = mapped_column(Boolean, index=True)
    category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(40))
    details_json: Mapped[str] = mapped_column(Text, default="{}")  # scores and findings
