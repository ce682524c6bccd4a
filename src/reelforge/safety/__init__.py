"""Content policy: what may be generated, checked on every request and every clip.

    from reelforge.safety import PolicyConfig, PolicyEngine, raise_for_decision

    engine = PolicyEngine(PolicyConfig(), registry=..., consent=..., audit=...)
    raise_for_decision(engine.check_request(prompt, requester=user_id, speech=lines))

See docs/POLICY.md for the categories, the method and how to retrain the classifier.
Importing this package is cheap; data, weights and the sentence encoder load on first use.
"""

from reelforge.safety.audit import AuditLog, AuditRecord, InMemoryAuditLog
from reelforge.safety.config import PolicyConfig
from reelforge.safety.consent import EVERYONE, ConsentLookup, InMemoryConsent
from reelforge.safety.decision import (
    CONTENT_CATEGORIES,
    ContentPolicyViolation,
    Decision,
    Finding,
    ModerationUnavailable,
    raise_for_decision,
)
from reelforge.safety.policy import PolicyEngine
from reelforge.safety.rights import (
    InMemoryRightsRegistry,
    RightsEntry,
    RightsRegistry,
)

__all__ = [
    "CONTENT_CATEGORIES",
    "EVERYONE",
    "AuditLog",
    "AuditRecord",
    "ConsentLookup",
    "ContentPolicyViolation",
    "Decision",
    "Finding",
    "InMemoryAuditLog",
    "InMemoryConsent",
    "InMemoryRightsRegistry",
    "ModerationUnavailable",
    "PolicyConfig",
    "PolicyEngine",
    "RightsEntry",
    "RightsRegistry",
    "raise_for_decision",
]
