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

Reading answers three different things, never one for another:

1. which container the file is, from its first bytes (`sniff_container`): C2PA embeds
   manifests in BMFF (MP4, MOV) and RIFF (AVI) files only, so a WebM or an MKV re-mux
   has no manifest, however it was made;
2. whether a manifest is there: in BMFF, a top-level `uuid` box with C2PA's UUID; a file
   without one is "absent" and c2pa is not asked;
3. only then, whether it validates: "Invalid" always comes with a reason in plain words
   (`reason`) and the validator's codes (`problems`).

Every text that comes out of the c2pa library or out of a manifest (explanations, signer,
assertion values) is made printable first: a broken file's error message can quote its
raw bytes.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

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
    # The model that made the pictures and sound, when the engine runs published weights
    # (ltx2: "LTX-2" and its snapshot's identity): the generating actions' software agent.
    model: tuple[str, str] | None = None
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
    maker = agent if facts.model is None else {"name": facts.model[0], "version": facts.model[1]}
    if facts.parent is None or _parent_file(facts) is None:
        actions: list[dict[str, Any]] = [
            {
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": maker,
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
                "softwareAgent": maker,
                "parameters": {
                    "description": f"{facts.parent.relation} of {facts.parent.video_id}"
                },
            },
        ]
    actions.append({"action": "c2pa.watermarked.bound", "softwareAgent": agent})
    end_ms = max(1, round(facts.duration_s * 1000))
    generation: dict[str, Any] = {"engine": facts.engine, "reelforge_version": __version__}
    if facts.model is not None:
        generation["model"] = {"name": facts.model[0], "version": facts.model[1]}
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


# Containers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """A file's container, as its first bytes say."""

    name: str  # for people: "MP4", "WebM", "Matroska (MKV)", ...
    c2pa_mime: str | None  # the format c2pa reads an embedded manifest from; None: none
    bmff: bool = False  # ISO base media (MP4, MOV): the manifest is a top-level uuid box


UNKNOWN_CONTAINER = Container("unrecognised", None)
SNIFF_BYTES = 512
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the BMFF manifest box
_BMFF_BRANDS = {b"qt  ": "MOV", b"M4V ": "M4V", b"M4VH": "M4V", b"M4VP": "M4V"}
_BMFF_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid")


def sniff_container(head: bytes) -> Container:
    """The container of a file whose first bytes (SNIFF_BYTES of them) are `head`."""
    if head[4:8] in _BMFF_FIRST_BOXES:
        brand = head[8:12] if head[4:8] == b"ftyp" else b""
        if brand.startswith(b"3g"):
            return Container("3GP", MP4, bmff=True)
        name = _BMFF_BRANDS.get(brand, "MP4" if brand else "MOV")
        return Container(name, "video/quicktime" if name == "MOV" else MP4, bmff=True)
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML; its DocType says which
        return Container("WebM" if b"webm" in head[:64] else "MKV", None)
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return Container("AVI", "video/avi")
    for magic, name in (
        (b"OggS", "Ogg"),
        (b"FLV", "FLV"),
        (b"\x89PNG", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF8", "GIF image"),
    ):
        if head.startswith(magic):
            return Container(name, None)
    if head[:1] == b"G" and head[188:189] in (b"", b"G"):  # MPEG-TS: a sync byte per packet
        return Container("MPEG-TS", None)
    return UNKNOWN_CONTAINER


def _has_c2pa_box(stream: BinaryIO, max_boxes: int = 100_000) -> bool:
    """Whether a BMFF file has a top-level uuid box with C2PA's UUID. Reads box headers
    only (a few bytes each), so a 4 GB file costs microseconds."""
    stream.seek(0, io.SEEK_END)
    end = stream.tell()
    offset = 0
    for _ in range(max_boxes):
        if offset + 8 > end:
            return False
        stream.seek(offset)
        header = stream.read(32)
        size, kind = int.from_bytes(header[:4], "big"), header[4:8]
        body = 8
        if size == 1:  # a 64-bit size follows the type
            size, body = int.from_bytes(header[8:16], "big"), 16
        elif size == 0:  # the box runs to the end of the file
            size = end - offset
        if kind == b"uuid" and header[body : body + 16] == C2PA_UUID:
            return True
        if size < body:  # not a box: the file is not (or no longer) BMFF past here
            return False
        offset += size
    return False


# Reading -------------------------------------------------------------------------------


@dataclass
class ManifestReport:
    """A file's C2PA manifest as `verify` reports it."""

    present: bool
    state: str  # "absent" | "Invalid" | "Valid" | "Trusted"
    container: str = ""  # as sniff_container names it
    reason: str | None = None  # why it is Invalid, in plain words (None otherwise)
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


def read_manifest(
    data: bytes | BinaryIO, trust_anchors_pem: bytes = b"", container: Container | None = None
) -> ManifestReport:
    """Validate the manifest embedded in a video (its bytes, or a readable, seekable binary
    stream, so a large file is never held in memory): signature, hard binding, and trust
    (against `trust_anchors_pem`). `container`: as `sniff_container` says (sniffed here
    when not given)."""
    import c2pa

    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    if container is None:
        stream.seek(0)
        container = sniff_container(stream.read(SNIFF_BYTES))
    if container.c2pa_mime is None or (container.bmff and not _has_c2pa_box(stream)):
        return ManifestReport(present=False, state="absent", container=container.name)
    config: dict[str, Any] = {"verify": dict(_OFFLINE["verify"])}
    if trust_anchors_pem:
        config["verify"]["verify_trust"] = True
        config["trust"] = {"trust_anchors": trust_anchors_pem.decode()}
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(config))
        stream.seek(0)
        with c2pa.Reader(container.c2pa_mime, stream, context=context) as reader:
            state = str(reader.get_validation_state() or "Invalid")
            store = json.loads(reader.json())
    except c2pa.C2paError as error:
        text = str(error)
        if "ManifestNotFound" in text or "JumbfNotFound" in text or "no JUMBF" in text:
            return ManifestReport(present=False, state="absent", container=container.name)
        detail = printable(text.splitlines()[0] if text else "", 200) or "no detail"
        return ManifestReport(
            present=True,
            state="Invalid",
            container=container.name,
            reason=f"the manifest is there but cannot be read ({detail})",
            problems=[detail],
        )
    return _report(state, cast(dict[str, Any], _printable_json(store)), container)


def _report(state: str, store: dict[str, Any], container: Container) -> ManifestReport:
    report = ManifestReport(
        present=True, state=state, trusted=state == "Trusted", container=container.name
    )
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
    failures = store.get("validation_results", {}).get("activeManifest", {}).get("failure", [])
    report.problems = [
        f"{item.get('code')}: {item.get('explanation', '')}".strip() for item in failures
    ]
    if state == "Invalid":
        report.reason = _plain_reason([str(item.get("code")) for item in failures])
    return report


# What each validation failure means for someone holding the file. C2PA 2.x section 15
# names the codes; the first failure that is not only about trust is the reason.
_PLAIN_REASONS = {
    "assertion.bmffHash.mismatch": "the video or audio data differs from what was signed "
    "(the file was changed or cut short after signing)",
    "assertion.dataHash.mismatch": "the file's data differs from what was signed "
    "(it was changed or cut short after signing)",
    "assertion.bmffHash.malformed": "the manifest's hash of the file is malformed",
    "claimSignature.mismatch": "the manifest was changed after it was signed "
    "(its signature does not match)",
    "claimSignature.missing": "the manifest has no signature",
    "assertion.hashedURI.mismatch": "a statement in the manifest was changed after signing",
    "assertion.missing": "a statement the manifest refers to is missing",
    "signingCredential.invalid": "the signing certificate is not valid",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.untrusted": "the signer is not in the trust list",
}


def _plain_reason(codes: list[str]) -> str:
    substantive = [code for code in codes if code != "signingCredential.untrusted"]
    for code in substantive or codes:
        if code in _PLAIN_REASONS:
            return _PLAIN_REASONS[code]
    if codes:
        return f"the manifest failed validation ({printable(codes[0], 80)})"
    return "the manifest failed validation"


def printable(text: str, limit: int = 300) -> str:
    """`text` with every unprintable character (control characters, raw bytes decoded
    as U+FFFD, lone surrogates, line breaks) replaced by "?", at most `limit` characters."""
    clean = "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _printable_json(value: Any) -> Any:
    """A JSON value from the c2pa library with every string made printable."""
    if isinstance(value, str):
        return printable(value, 2000)
    if isinstance(value, dict):
        return {printable(str(k), 200): _printable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_json(item) for item in value]
    return value
