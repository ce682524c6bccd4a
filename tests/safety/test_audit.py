"""Every decision, allowed or blocked, is audited: who, what, when, outcome."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from reelforge.safety import InMemoryAuditLog, PolicyEngine


def test_allowed_and_blocked_decisions_are_recorded() -> None:
    audit = InMemoryAuditLog()
    engine = PolicyEngine(audit=audit)
    before = datetime.now(UTC)
    engine.check_request("a cat chasing a laser pointer", requester="alice")
    engine.check_request(
        "a man talks", requester="bob", speech=["I am going to kill myself tonight."]
    )
    engine.check_clip("A red ball bounces.", ["Nice catch!"], requester="alice")

    allowed, blocked, clip = audit.records
    assert (allowed.requester, allowed.stage, allowed.allowed) == ("alice", "request", True)
    assert allowed.category is None and allowed.reason == "Allowed."
    assert allowed.text == "[prompt] a cat chasing a laser pointer"
    assert allowed.text_sha256 == hashlib.sha256(allowed.text.encode()).hexdigest()
    assert before <= allowed.decided_at <= datetime.now(UTC)
    assert allowed.policy_version == engine.policy_version

    assert (blocked.requester, blocked.allowed, blocked.category) == ("bob", False, "self-harm")
    assert "[speech 1] I am going to kill myself tonight." in blocked.text
    assert any(m["blocking"] and m["source"] == "speech 1" for m in blocked.matched)
    assert clip.stage == "clip" and clip.allowed
    assert [r.id for r in audit.records] == [1, 2, 3]


def test_long_texts_are_truncated_but_hashed_whole(tmp_path: Path) -> None:
    from reelforge.safety import PolicyConfig

    audit = InMemoryAuditLog()
    engine = PolicyEngine(PolicyConfig(audit_text_chars=40), audit=audit)
    prompt = "A quiet morning in a small bakery. " * 20
    engine.check_request(prompt, requester="alice")
    (record,) = audit.records
    assert len(record.text) == 40
    assert record.text_sha256 == hashlib.sha256(f"[prompt] {prompt}".encode()).hexdigest()
