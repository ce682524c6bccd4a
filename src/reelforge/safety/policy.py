"""The policy engine: one decision per request and per clip, every decision audited.

    engine = PolicyEngine(config, registry=..., consent=..., audit=...)
    raise_for_decision(engine.check_request(prompt, requester=user, speech=lines))
    ...
    raise_for_decision(engine.check_clip(plan_text, transcript, requester=user))

A check runs, in order:

1. Split every text (the prompt, each planned line of speech; or the plan and each
   transcript line) into pieces of at most `max_segment_words`, and normalise each piece
   against obfuscation (`normalize.py`).
2. Classify all pieces in one batch: MiniLM embedding + exemplar similarity + lexicon
   features → probabilities of benign and the six content categories (`classifier.py`).
   A piece blocks when the harmful probability reaches `harmful_threshold`, a category
   reaches its own threshold, or a strong lexicon term appears. Sexual evidence next to a
   word for a minor is always `sexual/minors`.
3. Ask the external moderation endpoint, when one is configured.
4. Find public figures: blocked unless `consent.allows(person, requester)`; a living
   musician named next to music words is `music_imitation`, allowed by the same consent
   or by a licence for their name in the rights registry.
5. Find registered names: blocked unless `registry.holds_licence(requester, name)`.
6. The most serious blocking finding decides; the decision goes to the audit log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from reelforge.safety.audit import AuditLog, InMemoryAuditLog
from reelforge.safety.classifier import CLASSES, Featurizer, LinearModel, TextEvidence
from reelforge.safety.config import PolicyConfig
from reelforge.safety.consent import ConsentLookup
from reelforge.safety.decision import (
    BENIGN,
    CONTENT_CATEGORIES,
    HATE_HARASSMENT,
    ILLICIT_EXTREMISM,
    MODERATION_UNAVAILABLE,
    MUSIC_IMITATION,
    PUBLIC_FIGURE,
    RIGHTS,
    SELF_HARM,
    SEXUAL,
    SEXUAL_MINORS,
    VIOLENCE_GRAPHIC,
    Decision,
    Finding,
    Stage,
)
from reelforge.safety.figures import FigureIndex
from reelforge.safety.moderation import ModerationClient, ModerationError
from reelforge.safety.resources import (
    ADAPTER_PATH,
    CLASSIFIER_PATH,
    FIGURES_PATH,
    LEXICON_PATH,
    policy_encoder,
    text_tools,
)
from reelforge.safety.rights import RightsRegistry

__all__ = ["POLICY_REVISION", "PolicyEngine", "split_segments"]

# Bump when the rules change; data and threshold changes show in the digest part of the
# version string on their own.
POLICY_REVISION = "1"

_REASONS = {
    SEXUAL: "{where} looks like sexual content, which is not allowed.",
    SEXUAL_MINORS: "{where} looks like sexual content involving a minor, which is never allowed.",
    VIOLENCE_GRAPHIC: "{where} looks like graphic violence or gore, which is not allowed.",
    SELF_HARM: (
        "{where} looks like it depicts or encourages self-harm, which is not allowed. "
        "If you are struggling, please reach out to someone you trust or a local crisis line."
    ),
    HATE_HARASSMENT: "{where} looks like hateful or harassing content, which is not allowed.",
    ILLICIT_EXTREMISM: (
        "{where} looks like extremist propaganda or help with serious crime, which is not allowed."
    ),
    PUBLIC_FIGURE: (
        "{where} shows {name}, a real public figure who has not allowed you to use their likeness."
    ),
    MUSIC_IMITATION: (
        "{where} asks for the music or voice of {name}, a living artist, which is not allowed "
        "without their permission."
    ),
    RIGHTS: (
        "{where} uses {name}, which its rights holder has protected; using it needs their licence."
    ),
    MODERATION_UNAVAILABLE: "The content check is unavailable right now; please try again later.",
}
_WHERE = {
    "prompt": "The prompt",
    "speech": "The planned speech",
    "plan": "The clip's scene plan",
    "transcript": "The clip's speech",
}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


def split_segments(text: str, max_words: int) -> list[str]:
    """Sentences of `text` packed into pieces of at most `max_words` words; a longer
    sentence becomes overlapping windows so no phrase is cut in every piece."""
    segments: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            segments.append(" ".join(current))
            current.clear()

    for sentence in _SENTENCE_BREAK.split(text):
        words = sentence.split()
        if len(words) > max_words:
            flush()
            stride = max_words // 2
            for start in range(0, len(words) - stride, stride):
                segments.append(" ".join(words[start : start + max_words]))
            continue
        if len(current) + len(words) > max_words:
            flush()
        current.extend(words)
    flush()
    return segments


@dataclass(frozen=True)
class _Loaded:
    featurizer: Featurizer
    model: LinearModel
    figures: FigureIndex
    version: str


class PolicyEngine:
    def __init__(
        self,
        config: PolicyConfig | None = None,
        *,
        registry: RightsRegistry | None = None,
        consent: ConsentLookup | None = None,
        audit: AuditLog | None = None,
        moderation: ModerationClient | None = None,
    ) -> None:
        """`registry` None: no protected names; `consent` None: no public figure has a
        cameo; `audit` None: an in-memory log (`engine.audit`); `moderation` None: a client
        for `config.moderation_url` when set."""
        self.config = config or PolicyConfig()
        self.registry = registry
        self.consent = consent
        self.audit: AuditLog = audit if audit is not None else InMemoryAuditLog()
        self._owns_moderation = False
        if moderation is None and self.config.moderation_url:
            self._owns_moderation = True
            moderation = ModerationClient(
                self.config.moderation_url,
                api_key=self.config.moderation_api_key,
                model=self.config.moderation_model,
                timeout_s=self.config.moderation_timeout_s,
            )
        self.moderation = moderation
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- public API -------------------------------------------------------------------------

    def check_request(self, text: str, *, requester: str, speech: Sequence[str] = ()) -> Decision:
        """Check a prompt and the lines of speech planned for it."""
        sources = [("prompt", text)] + [(f"speech {i}", s) for i, s in enumerate(speech, 1)]
        return self._check(sources, requester=requester, stage="request")

    def check_clip(self, plan_text: str, transcript: Sequence[str], *, requester: str) -> Decision:
        """Check the final scene plan (its detailed caption) and the clip's transcript."""
        sources = [("plan", plan_text)] + [
            (f"transcript {i}", line) for i, line in enumerate(transcript, 1)
        ]
        return self._check(sources, requester=requester, stage="clip")

    @property
    def policy_version(self) -> str:
        return self._load().version

    def close(self) -> None:
        """Close the moderation client this engine created (not one it was given)."""
        if self._owns_moderation and self.moderation is not None:
            self.moderation.close()

    def warm_up(self) -> None:
        """Load data, weights and the encoder now rather than on the first check."""
        self.check_request("a red ball bounces on a wooden floor", requester="warm-up")

    # -- the check --------------------------------------------------------------------------

    def _check(self, sources: list[tuple[str, str]], *, requester: str, stage: Stage) -> Decision:
        started = time.perf_counter()
        loaded = self._load()
        # 1. Segments and their evidence.
        segments = [
            (source, piece)
            for source, text in sources
            for piece in split_segments(text, self.config.max_segment_words)
        ]
        evidence = [loaded.featurizer.evidence(piece) for _, piece in segments]
        # 2. Classifier and lexicon.
        scores = dict.fromkeys(CONTENT_CATEGORIES, 0.0)
        findings: list[Finding] = []
        if segments:
            probabilities = loaded.model.probabilities(loaded.featurizer.features(evidence))
            for (source, _), item, row in zip(segments, evidence, probabilities, strict=True):
                findings += self._content_findings(source, item, row, scores)
        # 3. External moderation.
        if self.moderation is not None:
            findings += self._moderation_findings(sources, scores)
        # 4-5. Public figures, music imitation, protected names.
        for (source, _), item in zip(segments, evidence, strict=True):
            findings += self._figure_findings(loaded.figures, source, item, requester)
            findings += self._rights_findings(source, item, requester)
        # 6. Decide and audit.
        decision = self._decide(findings, sources, scores, loaded.version, requester, stage)
        decision = _with_elapsed(decision, (time.perf_counter() - started) * 1000)
        self.audit.record(decision)
        return decision

    def _content_findings(
        self,
        source: str,
        item: TextEvidence,
        row: np.ndarray,
        scores: dict[str, float],
    ) -> list[Finding]:
        probability = {c: float(row[CLASSES.index(c)]) for c in CONTENT_CATEGORIES}
        if item.mentions_minor:
            # Sexual content next to a minor is sexual content involving a minor.
            probability[SEXUAL_MINORS] += probability[SEXUAL]
        for category, p in probability.items():
            scores[category] = max(scores[category], p)
        harmful = 1.0 - float(row[CLASSES.index(BENIGN)])

        findings: list[Finding] = []
        over = [c for c in CONTENT_CATEGORIES if probability[c] >= self.config.threshold(c)]
        if not over and harmful >= self.config.harmful_threshold:
            over = [max(CONTENT_CATEGORIES, key=probability.__getitem__)]
        for category in over:
            if category == SEXUAL and item.mentions_minor:
                category = SEXUAL_MINORS
            findings.append(
                Finding("classifier", category, f"{probability[category]:.3f}", source, True)
            )
        for hit in item.lexicon_hits:
            if hit.strong:
                category = (
                    SEXUAL_MINORS
                    if hit.category == SEXUAL and item.mentions_minor
                    else hit.category
                )
                findings.append(Finding("lexicon", category, hit.term, source, True))
        return findings

    def _moderation_findings(
        self, sources: list[tuple[str, str]], scores: dict[str, float]
    ) -> list[Finding]:
        assert self.moderation is not None
        text = "\n".join(text for _, text in sources)
        try:
            result = self.moderation.check(text)
        except ModerationError as exc:
            blocking = self.config.moderation_fail_closed
            return [Finding("moderation", MODERATION_UNAVAILABLE, str(exc), "all", blocking)]
        for name, score in result.scores.items():
            scores[f"moderation:{name}"] = score
        return [Finding("moderation", c, "flagged", "all", True) for c in result.flagged]

    def _figure_findings(
        self, figures: FigureIndex, source: str, item: TextEvidence, requester: str
    ) -> list[Finding]:
        findings = []
        for mention in figures.mentions(item.text):
            figure = mention.figure
            consented = self.consent is not None and self.consent.allows(figure.key, requester)
            if mention.imitation:
                licensed = self.registry is not None and self.registry.holds_licence(
                    requester, figure.name
                )
                blocking = not (consented or licensed)
                findings.append(
                    Finding("music_imitation", MUSIC_IMITATION, figure.name, source, blocking)
                )
            else:
                findings.append(
                    Finding("public_figure", PUBLIC_FIGURE, figure.name, source, not consented)
                )
        return findings

    def _rights_findings(self, source: str, item: TextEvidence, requester: str) -> list[Finding]:
        if self.registry is None:
            return []
        return [
            Finding(
                "rights",
                RIGHTS,
                entry.name,
                source,
                not self.registry.holds_licence(requester, entry.name),
            )
            for entry in self.registry.match(item.text)
        ]

    def _decide(
        self,
        findings: list[Finding],
        sources: list[tuple[str, str]],
        scores: dict[str, float],
        version: str,
        requester: str,
        stage: Stage,
    ) -> Decision:
        whole = "\n".join(f"[{source}] {text}" for source, text in sources)
        blocking = sorted((f for f in findings if f.blocking), key=lambda f: _severity(f, scores))
        if blocking:
            first = blocking[0]
            where = _WHERE[first.source.split()[0]] if first.source != "all" else "The request"
            reason = _REASONS[first.category].format(where=where, name=first.value)
        else:
            first, reason = None, "Allowed."
        return Decision(
            allowed=first is None,
            category=first.category if first else None,
            reason=reason,
            policy_version=version,
            stage=stage,
            requester=requester,
            decided_at=datetime.now(UTC),
            checked_text=whole[: self.config.audit_text_chars],
            checked_sha256=hashlib.sha256(whole.encode()).hexdigest(),
            scores={k: round(v, 4) for k, v in scores.items()},
            matched=tuple(findings),
        )

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_now()
            return self._loaded

    def _load_now(self) -> _Loaded:
        config = self.config
        tools = text_tools(config.embedding_model_dir, config.public_figures_path)
        classifier_path = config.classifier_path or CLASSIFIER_PATH
        model = LinearModel.load(classifier_path)
        encoder = policy_encoder(config.embedding_model_dir)
        featurizer = Featurizer.of_model(model, encoder, tools.normalizer, tools.lexicon)
        digest = hashlib.sha256()
        for path in (
            LEXICON_PATH,
            config.public_figures_path or FIGURES_PATH,
            classifier_path,
            ADAPTER_PATH,
        ):
            digest.update(Path(path).read_bytes())
        thresholds = {
            "harmful": config.harmful_threshold,
            **{c: config.threshold(c) for c in CONTENT_CATEGORIES},
        }
        digest.update(json.dumps(thresholds, sort_keys=True).encode())
        version = f"reelforge-policy-{POLICY_REVISION}+{digest.hexdigest()[:10]}"
        return _Loaded(featurizer, model, tools.figures, version)


# Lower sorts first: sexual content with minors, then the other content categories by
# confidence (a strong term or the external endpoint counts as certain), then lookups,
# then an unavailable external checker.
_LOOKUP_ORDER = {PUBLIC_FIGURE: 2, MUSIC_IMITATION: 3, RIGHTS: 4, MODERATION_UNAVAILABLE: 5}


def _severity(finding: Finding, scores: dict[str, float]) -> tuple[int, float]:
    if finding.category == SEXUAL_MINORS:
        return (0, 0.0)
    if finding.category in CONTENT_CATEGORIES:
        certainty = 1.0 if finding.kind in ("lexicon", "moderation") else scores[finding.category]
        return (1, -certainty)
    return (_LOOKUP_ORDER[finding.category], 0.0)


def _with_elapsed(decision: Decision, elapsed_ms: float) -> Decision:
    return dataclasses.replace(decision, elapsed_ms=round(elapsed_ms, 2))
