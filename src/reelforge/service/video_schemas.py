"""The /v1/videos responses as typed models: OpenAI's Video object (with reelforge's
`plan` beside its fields), the list page and the deletion. The routes build plain dicts
(videos.video_public, which an Idempotency-Key replay also renders); FastAPI checks each
against these models and publishes them in the OpenAPI document, so clients and the
contract test (tests/e2e/test_contract.py) see the exact shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VideoDeleted", "VideoError", "VideoList", "VideoPublic"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field the docs do not name is a bug


class VideoError(_Out):
    code: str = Field(description="why the job failed, e.g. content_policy_violation")
    message: str


class VideoPublic(_Out):
    id: str = Field(examples=["video_3f2a9c0d1e4b5a6978c0d1e2"])
    object: Literal["video"]
    model: str = Field(description="the model asked for: sora-2, sora-2-pro or an engine name")
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(ge=0, le=100)
    created_at: int = Field(description="Unix seconds")
    completed_at: int | None
    expires_at: int | None = Field(description="when the files go: 24 h after completion")
    prompt: str | None
    size: str = Field(examples=["720x1280"])
    seconds: str = Field(examples=["4"])
    remixed_from_video_id: str | None
    error: VideoError | None = Field(description="set when status is failed")
    plan: dict[str, Any] | None = Field(
        description="reelforge's: what the planner drew, what stood in for what and what it "
        "left out; null until the plan exists"
    )


class VideoList(_Out):
    object: Literal["list"]
    data: list[VideoPublic]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(_Out):
    id: str
    object: Literal["video.deleted"]
    deleted: bool
