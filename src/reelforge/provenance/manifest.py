"""C2PA manifests (c2pa-python): sign a finished MP4, and read one back.

What a reelforge clip's manifest states:

* `c2pa.actions.v2`: `c2pa.created` with digitalSourceType trainedAlgorithmicMedia (a new
  clip), or `c2pa.opened` of its parent then `c2pa.edited` (a remix, edit or extension,
  whose source is the parent ingredient); then `c2pa.watermarked.bound`;
* `c2pa.soft-binding`: the invisible watermark's 64-bit payload (alg
  `org.reelforge.watermark.v1`), over the clip's whole timespan, so a copy whose manifest
  was stripped can be matched back to this one through the payload;
* `org.reelforge.generation`: engine, reelforge version and the video id;
* `org.reelforge.consent`, only on a clip that casts verified cameos: each cameo's id and
  handle and the grant that allowed the cast, and the content policy's version that
  checked the clip. Nothing biometric: no likeness, no features, no recording.

The hard binding is c2pa-rs's BMFF hash (`c2pa.hash.bmff.v3`): changing any byte of the
video or audio data invalidates the manifest. Signing takes a few milliseconds and adds
about 4 KB; no network is used (no timestamp authority, no OCSP fetch).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from reelforge import __version__
from reelforge.errors import MediaError
from reelforge.provenance.identity import Identity

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING_ALG = "org.reelforge.watermark.v1"
GENERATION_LABEL = "org.reelforge.generation"
CONSENT_LABEL = "org.reelforge.consent"
MP4 = "video/mp4"

# No network from the SDK: no OCSP responder or timestamp authority is ever contacted.
_OFFLINE: dict[str, dict[str, Any]] = {
    "verify": {"ocsp_fetch": False, "remote_manifest_fetch": False}
}


@dataclass(frozen=True)
class Parent:
    """The source of a remix, edit or extension: its signed MP4 (if still stored)."""

    video_id: str
    relation: str  # "remix" | "edit" | "extension"
    path: Path | None = None


@dataclass(frozen=True)
class CameoConsent:
    """One verified cameo a clip casts, and on what authority."""

    cameo_id: str
    handle: str
    grant: str  # the grant that allowed the cast, as the consent rules name it


@dataclass(frozen=True)
class Consent:
    """The consent assertion's content: the cameos cast, and the content policy's version
    that checked the request and the clip."""

    cameos: tuple[CameoConsent, ...]
    policy_version: str

    def assertion(self) -> dict[str, Any]:
        return {
            "cameos": [asdict(cameo) for cameo in self.cameos],
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True)
class ManifestFacts:
    """What signing asserts about one clip."""

    title: str
    payload: int  # the invisible watermark's 64-bit payload
    duration_s: float
    engine: str
    video_id: str | None = None
    parent: Parent | None = None
    consent: Consent | None = None  # None: the clip casts no verified cameo


def payload_hex(payload: int) -> str:
    return f"{payload:016x}"


PARENT_LABEL = "parent"


def _parent_file(facts: ManifestFacts) -> Path | None:
    parent = facts.parent
    if parent is None or parent.path is None or not parent.path.exists():
        return None
    return parent.path


def build_manifest(facts: ManifestFacts) -> dict[str, Any]:
    """The manifest definition. A derived clip whose source file is gone is stated as
    created (C2PA's c2pa.opened needs the ingredient); the generation assertion still
    names its source."""
    agent = {"name": "reelforge", "version": __version__}
    if facts.parent is None or _parent_file(facts) is None:
        actions: list[dict[str, Any]] = [
            {
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": agent,
            }
        ]
    else:
        actions = [
            {
                "action": "c2pa.opened",
                "softwareAgent": agent,
                "parameters": {"ingredientIds": [PARENT_LABEL]},
            },
            {
                "action": "c2pa.edited",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": agent,
                "parameters": {
                    "description": f"{facts.parent.relation} of {facts.parent.video_id}"
                },
            },
        ]
    actions.append({"action": "c2pa.watermarked.bound", "softwareAgent": agent})
    end_ms = max(1, round(facts.duration_s * 1000))
    generation: dict[str, Any] = {"engine": facts.engine, "reelforge_version": __version__}
    if facts.video_id is not None:
        generation["video_id"] = facts.video_id
    if facts.parent is not None:
        generation["parent"] = {
            "video_id": facts.parent.video_id,
            "relation": facts.parent.relation,
        }
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        {
            "label": "c2pa.soft-binding",
            "data": {
                "alg": SOFT_BINDING_ALG,
                "blocks": [
                    {
                        "scope": {"timespan": {"start": 0, "end": end_ms}},
                        "value": payload_hex(facts.payload),
                    }
                ],
            },
        },
        {"label": GENERATION_LABEL, "data": generation},
    ]
    if facts.consent is not None and facts.consent.cameos:
        assertions.append({"label": CONSENT_LABEL, "data": facts.consent.assertion()})
    return {
        "claim_generator_info": [agent],
        "title": facts.title,
        "format": MP4,
        "assertions": assertions,
    }


def sign_mp4(source: Path, destination: Path, facts: ManifestFacts, identity: Identity) -> None:
    """Write `source` with an embedded, signed manifest to `destination` (another path)."""
    import c2pa

    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=c2pa.C2paSigningAlg.ES256,
            sign_cert=identity.chain_pem,
            private_key=identity.key_pem,
            ta_url=None,
        )
    )
    try:
        with c2pa.Builder(build_manifest(facts)) as builder:
            parent_file = _parent_file(facts)
            if facts.parent is not None and parent_file is not None:
                with parent_file.open("rb") as stream:
                    builder.add_ingredient(
                        {
                            "title": f"{facts.parent.video_id}.mp4",
                            "relationship": "parentOf",
                            "label": PARENT_LABEL,
                        },
                        MP4,
                        stream,
                    )
            with source.open("rb") as src, destination.open("wb") as dst:
                builder.sign(signer, MP4, src, dst)
    except c2pa.C2paError as error:
        raise MediaError(f"C2PA signing failed: {error}") from None
    finally:
        signer.close()


@dataclass
class ManifestReport:
    """A file's C2PA manifest as `verify` reports it."""

    present: bool
    state: str  # "absent" | "Invalid" | "Valid" | "Trusted"
    trusted: bool = False
    signer: str | None = None
    actions: list[str] = field(default_factory=list)
    digital_source_type: str | None = None
    soft_binding: str | None = None  # the watermark payload the manifest claims, hex
    generation: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, Any] | None = None  # the org.reelforge.consent assertion, if any
    parents: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failure codes and explanations

    def public(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def cameo_ids(self) -> list[str]:
        """The verified cameos the consent assertion names (none without one)."""
        cameos = (self.consent or {}).get("cameos") or []
        return [str(c["cameo_id"]) for c in cameos if isinstance(c, dict) and "cameo_id" in c]


def read_manifest(data: bytes | BinaryIO, trust_anchors_pem: bytes = b"") -> ManifestReport:
    """Validate the manifest embedded in an MP4 (its bytes, or a readable binary stream,
    so a large file is never held in memory): signature, hard binding, and trust (against
    `trust_anchors_pem`)."""
    import c2pa

    config: dict[str, Any] = {"verify": dict(_OFFLINE["verify"])}
    if trust_anchors_pem:
        config["verify"]["verify_trust"] = True
        config["trust"] = {"trust_anchors": trust_anchors_pem.decode()}
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(config))
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        with c2pa.Reader(MP4, stream, context=context) as reader:
            state = str(reader.get_validation_state() or "Invalid")
            store = json.loads(reader.json())
    except c2pa.C2paError as error:
        text = str(error)
        if "ManifestNotFound" in text or "JumbfNotFound" in text or "no JUMBF" in text:
            return ManifestReport(present=False, state="absent")
        return ManifestReport(present=True, state="Invalid", problems=[_short(text)])
    report = ManifestReport(present=True, state=state, trusted=state == "Trusted")
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    report.signer = (active.get("signature_info") or {}).get("common_name") or (
        active.get("signature_info") or {}
    ).get("issuer")
    for assertion in active.get("assertions", []):
        label, data_ = assertion.get("label", ""), assertion.get("data", {})
        if label.startswith("c2pa.actions"):
            for action in data_.get("actions", []):
                report.actions.append(str(action.get("action")))
                report.digital_source_type = (
                    action.get("digitalSourceType") or report.digital_source_type
                )
        elif label == "c2pa.soft-binding" and data_.get("alg") == SOFT_BINDING_ALG:
            blocks = data_.get("blocks") or [{}]
            report.soft_binding = blocks[0].get("value")
        elif label == GENERATION_LABEL:
            report.generation = data_
        elif label == CONSENT_LABEL:
            report.consent = data_
    report.parents = [
        str(ingredient.get("title"))
        for ingredient in active.get("ingredients", [])
        if ingredient.get("relationship") == "parentOf"
    ]
    results = store.get("validation_results", {}).get("activeManifest", {})
    report.problems = [
        f"{item.get('code')}: {item.get('explanation', '')}".strip()
        for item in results.get("failure", [])
    ]
    return report


def _short(text: str) -> str:
    return text.splitlines()[0][:200] if text else "unreadable manifest"
