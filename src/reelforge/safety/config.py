"""Every knob of the content policy, in one typed object built once by the entry point.

The application's `Settings` (REELFORGE_* variables) carries the fields an operator sets;
the entry point turns them into a `PolicyConfig`. Defaults reproduce the numbers in
docs/BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from reelforge.errors import ConfigError
from reelforge.safety.decision import CONTENT_CATEGORIES, SEXUAL_MINORS

__all__ = ["DEFAULT_CATEGORY_THRESHOLDS", "PolicyConfig"]

# A category blocks on its own when the classifier gives it at least this probability,
# even if the total harmful probability is below `harmful_threshold`. Sexual content
# involving minors is held to a stricter line than the rest.
DEFAULT_CATEGORY_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {c: (0.3 if c == SEXUAL_MINORS else 0.5) for c in CONTENT_CATEGORIES}
)


@dataclass(frozen=True)
class PolicyConfig:
    # Classifier: block when P(any harmful category) = 1 - P(benign) reaches this.
    harmful_threshold: float = 0.5
    # Per-category probabilities that block on their own (see above); keys are
    # CONTENT_CATEGORIES, missing keys take the default.
    category_thresholds: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_THRESHOLDS)
    )
    # Data. None: what ships in reelforge/safety/data (and the bundled MiniLM model).
    embedding_model_dir: Path | None = None
    public_figures_path: Path | None = None
    classifier_path: Path | None = None
    # Optional OpenAI-compatible moderation endpoint: POST {url}/v1/moderations (or
    # {url}/moderations when the url already ends in /v1).
    moderation_url: str | None = None
    moderation_api_key: str | None = field(default=None, repr=False)
    moderation_model: str | None = None  # e.g. "omni-moderation-latest"; None: omitted
    moderation_timeout_s: float = 5.0
    # When the endpoint fails (down, timeout, bad answer): True blocks the request with
    # ModerationUnavailable (503), False carries on with the local checks only.
    moderation_fail_closed: bool = True
    # Texts longer than this many words are checked in pieces of about this size
    # (the sentence encoder reads at most 256 tokens).
    max_segment_words: int = 48
    # How much of the checked text an audit record keeps (its sha256 is always kept).
    audit_text_chars: int = 4000

    def __post_init__(self) -> None:
        unknown = sorted(set(self.category_thresholds) - set(CONTENT_CATEGORIES))
        if unknown:
            raise ConfigError(
                f"category_thresholds: unknown categories {unknown}; "
                f"known: {', '.join(CONTENT_CATEGORIES)}"
            )
        for name, value in [
            ("harmful_threshold", self.harmful_threshold),
            *((f"category_thresholds[{c!r}]", t) for c, t in self.category_thresholds.items()),
        ]:
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")
        if self.moderation_timeout_s <= 0:
            raise ConfigError(
                f"moderation_timeout_s must be positive, got {self.moderation_timeout_s}"
            )
        if self.max_segment_words < 8:
            raise ConfigError(f"max_segment_words must be at least 8, got {self.max_segment_words}")

    def threshold(self, category: str) -> float:
        return self.category_thresholds.get(category, DEFAULT_CATEGORY_THRESHOLDS[category])
