"""Tables. A video's row is the truth about its job: status, progress, attempts, error."""

from __future__ import annotations

import time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
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
    # The app (docs/APP.md): `name` is the public @handle. API-key-only users have no
    # password and cannot sign in on the web.
    display_name: Mapped[str] = mapped_column(String(80), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # in storage
    role: Mapped[str] = mapped_column(String(16), default="user")  # user, moderator, admin
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2id
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int] = mapped_column(Integer, default=0)
    # For You steering ("more cats and cooking, no sports"), stored and shown as written.
    steering: Mapped[str] = mapped_column(Text, default="")
    # Its phrases' MiniLM embeddings (social.feed.steering_blob), made when it is saved so
    # the ranker never runs the encoder on a request; None: made on first use.
    steering_vectors: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Notification types switched off, comma-separated ("like,follow").
    muted_notifications: Mapped[str] = mapped_column(String(200), default="")
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)


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
    # The running attempt's lease (jobs/worker.py): its writes are fenced by the token.
    lease_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    not_before: Mapped[float | None] = mapped_column(Float, nullable=True)  # a retry's backoff
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the fair pick's turn
    # The served attempt's folder in storage ("{id}/{attempt}"); None: rows before 0014.
    media_prefix: Mapped[str | None] = mapped_column(String(100), nullable=True)
    plan_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Remixes, edits and extensions start from another video's plan.
    kind: Mapped[str] = mapped_column(String(16), default="create")
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    base_plan_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Image-to-video: the storage key of the uploaded first frame (content-addressed, so
    # remixes share it).
    input_reference_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sequence: Mapped[int] = mapped_column(BigInteger, index=True, default=0)  # creation, ns


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


# The app: sessions, posts, the social graph, reactions, notifications, reports. ---------


class WebSession(Base):
    """A signed-in browser. The cookie holds the token; only its SHA-256 is stored. Every
    state-changing call made with the cookie must echo `csrf_token` (header X-CSRF-Token or
    form field csrf_token)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


class Post(Base):
    """A video its creator published (a video without a row here, or unposted, is a private
    draft). Counters are kept on the row so a feed page reads one table."""

    __tablename__ = "posts"

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    posted: Mapped[bool] = mapped_column(Boolean, default=True)
    posted_at: Mapped[int] = mapped_column(Integer, default=now_s)
    allow_remix: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_download: Mapped[bool] = mapped_column(Boolean, default=True)
    comments_on: Mapped[bool] = mapped_column(Boolean, default=True)
    # Taken down by a moderator (an upheld report): gone from every feed; remixes' parent
    # link shows "removed".
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The remix chain: the post this one remixes, the chain's first post, and how deep.
    parent_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    root_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    remix_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    # all-MiniLM-L6-v2 embedding of the caption and prompt: 384 float32, little-endian.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        Index("ix_posts_feed", "posted", "removed", "posted_at"),
        Index("ix_posts_creator_time", "user_id", "posted_at"),  # Following
    )


class Like(Base):
    __tablename__ = "likes"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("posts.video_id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)

    __table_args__ = (Index("ix_likes_video", "video_id"),)


class Comment(Base):
    """A comment, or a reply to one (one level: a reply's parent is never a reply)."""

    __tablename__ = "comments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("posts.video_id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    body: Mapped[str] = mapped_column(Text)  # as written; escaped wherever it is shown
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    followee_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)

    __table_args__ = (Index("ix_follows_followee", "followee_id"),)


class Block(Base):
    """`user_id` blocked `blocked_id`: neither sees the other's posts or comments, and
    neither can follow, comment on, or remix the other."""

    __tablename__ = "blocks"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)

    __table_args__ = (Index("ix_blocks_blocked", "blocked_id"),)  # who blocked me


class HiddenCreator(Base):
    """ "Hide creator": their posts leave this viewer's For You (they can still be found)."""

    __tablename__ = "hidden_creators"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class SeeLess(Base):
    """ "See less like this": the post leaves this viewer's feed and its embedding counts
    against similar ones."""

    __tablename__ = "see_less"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("posts.video_id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class View(Base):
    """One viewer's watching of one post: how long, and whether to the end. One row per
    (viewer, post); watching again adds to it."""

    __tablename__ = "views"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("posts.video_id"), primary_key=True)
    watched_ms: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    updated_at: Mapped[int] = mapped_column(Integer, default=now_s)

    __table_args__ = (Index("ix_views_video", "video_id"),)


class Notification(Base):
    """Typed: like, comment, reply, follow, remix, cameo, report. `actor_id` did it."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    comment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    report_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")  # plain text; escaped when shown
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    read: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_notifications_user", "user_id", "read", "id"),)


class Report(Base):
    """A report of a post, comment or profile: open → upheld / dismissed."""

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(16))  # post, comment, profile
    target_id: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # likeness, copyright, harmful, ...
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    resolved_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ReportMessage(Base):
    """The thread between a reporter and the moderators."""

    __tablename__ = "report_messages"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class ModerationAudit(Base):
    """Every moderator action (append-only): who did what to which target, and why."""

    __tablename__ = "moderation_audit"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    moderator_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # uphold, dismiss, restore, suspend, role
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(Integer, default=now_s, index=True)


# Cameos (docs/CAMEOS.md): a verified likeness, or a character, that its owner controls. --


class Cameo(Base):
    """A person's verified likeness (kind "person", handle = the owner's handle), or a
    character (a pet, an object, an original; its own unique handle). Deleting it scrubs
    the recording and the derived features and keeps the row (deleted_at) so the consent
    log still names what it was about."""

    __tablename__ = "cameos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    handle: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person, character
    display_name: Mapped[str] = mapped_column(String(80), default="")
    access: Mapped[str] = mapped_column(String(16), default="only_me")  # see social/cameos.py
    approve_before_posting: Mapped[bool] = mapped_column(Boolean, default=False)
    no_appearance_changes: Mapped[bool] = mapped_column(Boolean, default=False)
    no_embarrassing_or_romantic: Mapped[bool] = mapped_column(Boolean, default=False)
    no_political: Mapped[bool] = mapped_column(Boolean, default=False)
    preferences: Mapped[str] = mapped_column(Text, default="")  # free text, as written
    likeness_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # cameos.likeness
    take_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # in storage
    # Where the owner is told of every use (a signed POST, webhooks.py), and its secret.
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(80), nullable=True)
    verified_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class CameoChallenge(Base):
    """A liveness challenge: digits to read aloud and head turns, single use, short-lived."""

    __tablename__ = "cameo_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    digits: Mapped[str] = mapped_column(String(16))  # "471930"
    turns: Mapped[str] = mapped_column(String(40))  # "left,right"
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    expires_at: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CameoAccessGrant(Base):
    """The owner lets one person cast a cameo, perhaps until a time or for N uses."""

    __tablename__ = "cameo_access_grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id"), index=True)
    grantee_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uses_left: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CameoUse(Base):
    """A video that casts a cameo, and where it stands: drafted, awaiting_approval,
    approved, posted, removed. `video_id` is not a foreign key: the row outlives the
    video it names (a removed video's use is kept as "removed")."""

    __tablename__ = "cameo_uses"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    video_id: Mapped[str] = mapped_column(String(40), index=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id"), index=True)
    caster_id: Mapped[str] = mapped_column(String(40))
    grant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="drafted")
    created_at: Mapped[int] = mapped_column(Integer, default=now_s)


class ConsentLogEntry(Base):
    """One event in a cameo's consent log: append-only and hash-chained per cameo
    (cameos/consent_log.py)."""

    __tablename__ = "consent_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    cameo_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the cameo
    at: Mapped[int] = mapped_column(Integer)  # Unix time, s
    event: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail_json: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_consent_log_cameo_seq", "cameo_id", "seq", unique=True),)


class IdempotencyKey(Base):
    """A POST's Idempotency-Key, claimed per user (service/idempotency.py): what the
    request was, what it created, and the answer it got, kept for 24 h."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path, body
    resource_id: Mapped[str | None] = mapped_column(String(40), nullable=True)  # a video id
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: running
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[int] = mapped_column(Integer, index=True)


class WebhookDelivery(Base):
    """One outgoing webhook event (outbox.py): written in the transaction of the change it
    announces, sent by the outbox sender until delivered or 24 h have passed. `id` is the
    event id and the `webhook-id` header of every attempt."""

    __tablename__ = "webhook_outbox"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "evt_<hex>"
    kind: Mapped[str] = mapped_column(String(40))  # the event type: "video.completed", ...
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(Text)  # as the webhook's store keeps it
    body: Mapped[str] = mapped_column(Text)  # the event, JSON
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, index=True)
    claimed_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Indexed for outbox.prune, which deletes delivered rows by age.
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    failed_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # gave up
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
