"""What the policy engine decides, and the errors a blocked decision becomes.

A `Decision` is both the answer to the caller and the audit record's payload. Its
`reason` is a short sentence meant for the person who made the request (the API returns it
as a 400 `content_policy_violation`); what exactly matched stays in `matched` for the
audit log and is never put into the message beyond the name of a public figure or a
protected work, which the user typed themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from reelforge.errors import ReelforgeError

__all__ = [
    "CONTENT_CATEGORIES",
    "ContentPolicyViolation",
    "Decision",
    "Finding",
    "ModerationUnavailable",
    "Stage",
    "raise_for_decision",
]

# Content categories the classifier scores (after OpenAI's omni-moderation taxonomy,
# merged where a video generator treats them alike).
SEXUAL = "sexual"
SEXUAL_MINORS = "sexual/minors"
VIOLENCE_GRAPHIC = "violence/graphic"
SELF_HARM = "self-harm"
HATE_HARASSMENT = "hate/harassment"
ILLICIT_EXTREMISM = "illicit/extremism"
CONTENT_CATEGORIES = (
    SEXUAL,
    SEXUAL_MINORS,
    VIOLENCE_GRAPHIC,
    SELF_HARM,
    HATE_HARASSMENT,
    ILLICIT_EXTREMISM,
)
BENIGN = "benign"  # the classifier's seventh class

# Categories decided by lookups rather than by the classifier.
PUBLIC_FIGURE = "public_figure"
MUSIC_IMITATION = "music_imitation"
RIGHTS = "rights"
# The external moderation endpoint was configured, failed, and the policy fails closed.
MODERATION_UNAVAILABLE = "moderation_unavailable"

Stage = Literal["request", "clip"]
FindingKind = Literal[
    "classifier", "lexicon", "moderation", "public_figure", "music_imitation", "rights"
]


@dataclass(frozen=True)
class Finding:
    """One thing that matched: for the audit log, not for the user."""

    kind: FindingKind
    category: str
    value: str  # the term, name or entry that matched; the score for classifier findings
    source: str  # "prompt", "speech 2", "plan", "transcript 1", ...
    blocking: bool  # whether this finding alone blocks the request


@dataclass(frozen=True)
class Decision:
    allowed: bool
    category: str | None  # None when allowed
    reason: str  # one sentence for the user
    policy_version: str
    stage: Stage
    requester: str
    decided_at: datetime  # UTC
    checked_text: str  # the texts checked, one per line, truncated for the audit log
    checked_sha256: str  # of all the texts checked, untruncated
    # Highest classifier probability per content category over all checked texts, plus
    # "moderation:<category>" scores when an external endpoint answered.
    scores: dict[str, float] = field(default_factory=dict)
    matched: tuple[Finding, ...] = ()
    elapsed_ms: float = 0.0


class ContentPolicyViolation(ReelforgeError):
    """The prompt, the planned speech or the clip breaks the content policy."""

    status = 400
    type = "invalid_request_error"
    exit_code = 4  # the CLI's own status for a refusal, apart from a usage error's 2

    def __init__(self, message: str, *, category: str, policy_version: str) -> None:
        super().__init__(message, param="prompt", code="content_policy_violation")
        self.category = category
        self.policy_version = policy_version


class ModerationUnavailable(ReelforgeError):
    """The configured external moderation endpoint did not answer and the policy fails
    closed: the request may be fine, so this is the server's fault, not the user's."""

    status = 503
    type = "server_error"
    exit_code = 1
    public = True  # the reason is a fixed sentence for the user

    def __init__(self, message: str, *, policy_version: str) -> None:
        super().__init__(message, param="prompt", code="moderation_unavailable")
        self.category = MODERATION_UNAVAILABLE
        self.policy_version = policy_version


def raise_for_decision(decision: Decision) -> Decision:
    """Return an allowed decision; raise the matching error for a blocked one."""
    if decision.allowed:
        return decision
    if decision.category == MODERATION_UNAVAILABLE:
        raise ModerationUnavailable(decision.reason, policy_version=decision.policy_version)
    raise ContentPolicyViolation(
        decision.reason,
        category=decision.category or "unknown",
        policy_version=decision.policy_version,
    )
