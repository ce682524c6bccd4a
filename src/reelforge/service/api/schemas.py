"""The app's typed API (`/api/`): request and response models, shown in OpenAPI.

Every text a person wrote (captions, prompts, comments, bios, names) goes out as written;
the web UI escapes it wherever it is shown. Request models forbid unknown fields so a
misspelt field is a 400 that names it, like everything else here.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

HANDLE_PATTERN = r"^[a-z0-9_]{3,30}$"
NOTIFICATION_TYPES = ("like", "comment", "reply", "follow", "remix", "cameo", "report")
T = TypeVar("T")
REPORT_REASONS = ("likeness", "copyright", "harmful", "harassment", "spam", "other")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Accounts ---------------------------------------------------------------------------


class SignUpIn(_In):
    handle: str = Field(pattern=HANDLE_PATTERN, description="3-30 of a-z, 0-9, _")
    password: str = Field(min_length=10, max_length=200)
    display_name: str = Field(default="", max_length=80)


class LoginIn(_In):
    handle: str = Field(max_length=30)
    password: str = Field(max_length=200)


class UserOut(BaseModel):
    id: str
    handle: str
    display_name: str
    avatar_url: str | None
    role: Literal["user", "moderator", "admin"]


class SessionOut(BaseModel):
    user: UserOut | None
    csrf_token: str | None


class ProfileOut(UserOut):
    bio: str
    created_at: int
    followers: int
    following: int
    posts: int
    followed_by_me: bool = False
    blocked_by_me: bool = False
    hidden_by_me: bool = False


class ProfileIn(_In):
    display_name: str | None = Field(default=None, max_length=80)
    bio: str | None = Field(default=None, max_length=500)


class SettingsOut(BaseModel):
    steering: str
    notifications: dict[str, bool]  # every type in NOTIFICATION_TYPES: on or off


class SettingsIn(_In):
    steering: str | None = Field(default=None, max_length=500)
    notifications: dict[str, bool] | None = None


# Videos, drafts and posts -----------------------------------------------------------


class CreateIn(_In):
    prompt: str = Field(min_length=1, max_length=2000)
    seconds: Literal["4", "8", "12"] = "4"
    size: Literal["720x1280", "1280x720", "1024x1792", "1792x1024"] = "720x1280"
    cameos: list[str] = Field(default_factory=list, max_length=3)  # @handles
    # The first frame, as a data URL ("data:image/png;base64,..."); never a remote URL.
    input_reference: str | None = Field(default=None, max_length=30_000_000)


class RemixIn(_In):
    prompt: str = Field(min_length=1, max_length=2000)


class VideoOut(BaseModel):
    """A video as its creator sees it: a draft (until posted) with its job's progress."""

    id: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    prompt: str
    seconds: str
    size: str
    model: str
    created_at: int
    error: str | None
    posted: bool
    remix_of: str | None
    video_url: str | None  # once completed
    thumbnail_url: str | None


class PostIn(_In):
    caption: str = Field(default="", max_length=500)
    allow_remix: bool = True
    allow_download: bool = True
    comments_on: bool = True


class Counts(BaseModel):
    likes: int
    comments: int
    remixes: int
    views: int


class ChainLink(BaseModel):
    id: str
    handle: str | None  # None once removed
    removed: bool


class RemixChain(BaseModel):
    parent: ChainLink | None
    root: ChainLink | None
    depth: int


class WhyTerm(BaseModel):
    name: Literal["freshness", "engagement", "interests", "trust", "steering"]
    weight: float
    value: float  # 0..1 (steering: -1..1)
    detail: str  # "posted 3 h ago", "12 likes, 2 remixes", "like cats you liked"


class Why(BaseModel):
    source: Literal["ranked", "exploration", "following", "profile", "direct"]
    score: float
    terms: list[WhyTerm]
    text: str  # one readable sentence


class PostOut(BaseModel):
    id: str  # the video id
    creator: UserOut
    caption: str
    prompt: str
    seconds: str
    size: str
    posted_at: int
    allow_remix: bool
    allow_download: bool
    comments_on: bool
    counts: Counts
    liked_by_me: bool
    remix: RemixChain
    video_url: str
    thumbnail_url: str
    download_url: str | None  # only when downloads are allowed
    provenance_url: str
    why: Why | None = None


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


class ViewIn(_In):
    watched_ms: int = Field(ge=0, le=3_600_000)
    completed: bool = False


class DeletedOut(BaseModel):
    id: str  # a video's or a comment's
    deleted: bool


class ViewOut(BaseModel):
    video_id: str
    watched_ms: int = Field(description="the viewer's watching of the post in all, ms")
    completed: bool = Field(description="watched to the end, once or more")


class SeeLessOut(BaseModel):
    video_id: str
    see_less: bool


class CommentIn(_In):
    body: str = Field(min_length=1, max_length=1000)
    parent_id: str | None = None


class CommentOut(BaseModel):
    id: str
    author: UserOut
    body: str
    created_at: int
    parent_id: str | None
    replies: list[CommentOut] = Field(default_factory=list)


class ProvenanceOut(BaseModel):
    c2pa_valid: bool
    watermark_found: bool
    model: str | None
    creator: str | None
    parent_video_id: str | None
    summary: str
    cameos: list[str] = Field(default_factory=list)  # verified cameo ids, from the manifest


# Cameos (service/api/cameos.py; social/cameos.py builds the dicts) ---------------------


class ChallengeOut(BaseModel):
    id: str
    digits: str = Field(description='six digits to read aloud, spaced: "4 7 1 9 3 0"')
    turns: list[Literal["left", "right"]] = Field(description="the head turns, in order")
    expires_at: int = Field(description="Unix time, s: the take must be sent before")


class LivenessCheckOut(BaseModel):
    name: str = Field(
        description="digits, head_turns, same_face, lip_sync, face_quality or readable"
    )
    passed: bool
    detail: str = Field(description="why, with the measured values")


class CameoPresetsOut(BaseModel):
    no_appearance_changes: bool
    no_embarrassing_or_romantic: bool
    no_political: bool


class CameoOut(BaseModel):
    """A cameo as its owner sees it (no likeness features, no storage keys)."""

    id: str
    handle: str
    kind: Literal["person", "character"]
    display_name: str
    access: Literal["only_me", "approved", "mutuals", "everyone"]
    approve_before_posting: bool
    presets: CameoPresetsOut
    preferences: str  # free text, as written
    verified: bool
    verified_at: int | None
    created_at: int


class CameoVerificationOut(BaseModel):
    passed: bool = Field(description="every check passed: the cameo is verified from this take")
    checks: list[LivenessCheckOut]
    cameo: CameoOut


class CameoListOut(BaseModel):
    data: list[CameoOut]


class GrantOut(BaseModel):
    id: str
    grantee: str  # handle
    expires_at: int | None = Field(description="Unix time, s; null: no expiry")
    uses_left: int | None = Field(description="null: unlimited")


class CameoGrantOut(GrantOut):
    created_at: int


class CameoDetailOut(CameoOut):
    webhook_url: str | None
    webhook_secret_set: bool
    grants: list[CameoGrantOut] = Field(description="the live ones, oldest first")


class CameoUpdatedOut(CameoDetailOut):
    # Absent, not null, unless this change made a secret: the route excludes unset fields.
    webhook_secret: str | None = Field(
        default=None, description="shown once, when the change set a new webhook_url"
    )


class WebhookSecretOut(BaseModel):
    webhook_url: str
    webhook_secret: str = Field(description="shown this once; the old one stops working")


class WebhookTestOut(BaseModel):
    delivered: bool = Field(description="the receiver answered 2xx")
    status: int | None = Field(description="the receiver's HTTP status; null if none came")
    detail: str
    event_id: str


class RemovedVideoOut(BaseModel):
    video_id: str
    creator_id: str
    prompt: str


class GrantRevokedOut(BaseModel):
    grantee: str  # handle
    revoked: list[str] = Field(description="the grant ids")
    removed_videos: list[RemovedVideoOut] = Field(
        description="the grantee's videos with the cameo, and every remix of those"
    )


class CameoVideoOut(BaseModel):
    video_id: str
    creator: str  # handle
    created_at: int
    prompt: str
    status: Literal["drafted", "awaiting_approval", "approved", "posted"] = Field(
        description="where the use of the cameo stands"
    )
    video_status: Literal["queued", "in_progress", "completed", "failed"]
    posted: bool = Field(description="a live post now")
    grant_id: str | None = Field(description="the grant it was cast under; null if none")


class CameoVideosOut(BaseModel):
    data: list[CameoVideoOut]  # newest first


class CameoVideoDeletedOut(BaseModel):
    id: str
    deleted: bool
    removed_videos: list[RemovedVideoOut] = Field(description="the video and its remixes")


class CameoVideoApprovedOut(BaseModel):
    video_id: str
    status: Literal["approved"]


class CameoDeletedOut(BaseModel):
    """The receipt of a deleted cameo."""

    cameo_id: str
    handle: str
    deleted_at: int
    recording_deleted: bool
    features_deleted: list[str] = Field(description='the derived features, e.g. ["likeness"]')
    grants_revoked: list[str] = Field(description="the grant ids")
    videos_removed: list[RemovedVideoOut]


class ConsentEntryOut(BaseModel):
    """One entry of the hash chain (cameos/consent_log.py says how to check it)."""

    cameo_id: str
    seq: int = Field(description="1, 2, ... within the cameo")
    at: int = Field(description="Unix time, s")
    event: str  # str, not the known events: a tampered entry must still be shown
    actor_id: str | None
    video_id: str | None
    # Any JSON, not only an object: an entry whose detail was rewritten is still shown.
    detail: Any = Field(description="the event's own facts")
    prev_hash: str
    hash: str


class ConsentLogOut(BaseModel):
    cameo_id: str
    handle: str
    deleted: bool
    intact: bool = Field(description="the chain checks out: no entry changed or missing")
    problems: list[str] = Field(description="where the chain breaks, naming each entry")
    entries: list[ConsentEntryOut]


# Notifications ----------------------------------------------------------------------


class NotificationOut(BaseModel):
    id: int
    type: str
    actor: UserOut | None
    video_id: str | None
    comment_id: str | None
    report_id: str | None
    text: str
    created_at: int
    read: bool


class NotificationsPage(Page[NotificationOut]):
    unread: int


class ReadIn(_In):
    ids: list[int] | None = None  # None: all


# Reports and moderation -------------------------------------------------------------


class ReportIn(_In):
    # post, video: a video id (video: a cameo owner's report of a video casting them, a
    # draft included); comment: a comment id; profile: a handle
    target_type: Literal["post", "comment", "profile", "video"]
    target_id: str = Field(min_length=1, max_length=40)
    reason: Literal["likeness", "copyright", "harmful", "harassment", "spam", "other"]
    details: str = Field(default="", max_length=2000)


class ReportMessageOut(BaseModel):
    author: UserOut
    body: str
    created_at: int


class ReportOut(BaseModel):
    id: str
    reporter: UserOut
    target_type: str
    target_id: str
    reason: str
    details: str
    target_summary: str | None = None  # post, video: whose it is and its prompt
    status: Literal["open", "upheld", "dismissed"]
    created_at: int
    resolved_at: int | None
    messages: list[ReportMessageOut] = Field(default_factory=list)


class MessageIn(_In):
    body: str = Field(min_length=1, max_length=2000)


class ResolveIn(_In):
    outcome: Literal["upheld", "dismissed"]
    note: str = Field(default="", max_length=2000)


class AuditOut(BaseModel):
    id: int
    moderator: str  # handle
    action: str
    target_type: str
    target_id: str
    report_id: str | None
    note: str
    created_at: int
