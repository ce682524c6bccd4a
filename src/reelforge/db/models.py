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
