"""One function runs the whole chain from a request to files on disk.

    request → recaption → policy (prompt + planned speech) → engine.generate
            → policy (final plan + transcript: the engine's, else heard from the audio)
            → provenance.mark → media.encode
            → provenance.sign (C2PA) → registry → MP4 + JSON sidecar

Marking draws the visible moving mark (creator's handle) and adds the invisible watermarks
(a fresh 64-bit payload, in the audio before encoding and in each frame's luma plane
during it); signing embeds a C2PA manifest whose soft binding is that payload; the
registry maps the payload back to the clip. The CLI, the job worker and the tests all call
`generate` and nothing re-implements a step of it.

Outputs are written to temporary files next to their destination and renamed into place
only when complete, so a failure or an interrupt never leaves a partial file behind.

Frames that an engine hands over as a FrameSource (the sim's) are drawn one at a time as
the encoder pulls them, with the visible mark applied to each as it is drawn: the clip is
never held whole. Their drawing time is counted back to the engine (`engine.render_s`,
`engine_s`) and the mark's to `mark_s`, so `encode_s` stays the encoder's own time; the
progress bar's encode stage starts where the engine's own progress stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reelforge import __version__, media
from reelforge.deployment import Deployment
from reelforge.engines import Capabilities, Engine, References, get_engine
from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.transcribe import transcribe
from reelforge.provenance.identity import load_identity
from reelforge.provenance.manifest import (
    CameoConsent,
    Consent,
    ManifestFacts,
    Parent,
    payload_hex,
    sign_mp4,
)
from reelforge.provenance.registry import Registry, RegistryEntry, new_payload
from reelforge.recaption import detailed_caption, recaption, remix_plan
from reelforge.recaption.rules import fit_plan_dialogue
from reelforge.recaption.understood import understood
from reelforge.safety import PolicyEngine, raise_for_decision
from reelforge.settings import Settings
from reelforge.types import Clip, FrameSource, Progress, Request, Result, ScenePlan, no_progress

if TYPE_CHECKING:  # the sim renderer and speech behind it are not needed to pass one on
    from reelforge.engines.dit.references import CameoReference

# Engines whose Clip.speech is the ground truth of what is said (a simulator's): an
# empty list means the clip says nothing. Every other engine's clips are transcribed.
SPEECH_KNOWN_ENGINES = frozenset({"sim"})
# Share of the progress bar each stage takes.
RECAPTION_END, ENGINE_END = 0.04, 0.82
DEFAULT_CREATOR = "reelforge-cli"  # the visible mark's handle when the request names none


def generate(
    request: Request,
    output_path: Path,
    *,
    progress: Progress | None = None,
    settings: Settings | None = None,
    deployment: Deployment | None = None,
    plan: ScenePlan | None = None,
    base_plan: ScenePlan | None = None,
    provenance: Provenance | None = None,
    policy: PolicyEngine | None = None,
    cameos: tuple[CameoReference, ...] = (),
    stills: bool = False,
) -> Result:
    """Generate `request` into `output_path` (+ a JSON sidecar). `deployment` holds the
    settings, the policy engine and the registry (default: a new deployment of
    `settings`; one of the two is needed). With `plan`, recaptioning
    is skipped and that plan is rendered. With `base_plan` (a remix, an edit or an
    extension: the plan of the video it starts from), the prompt changes only what it
    states of that plan (`recaption.remix_plan`), with the same seed. `provenance` says
    which video this is and where to register its watermark (default: the deployment's
    registry). `policy` checks the request and the clip (default: the deployment's). `cameos`
    are characters (appearance image + voice sample) the clip's characters must look and
    sound like, in the plan's order; only engines whose capabilities include cameos take
    them. A cameo with a likeness (a verified one) is cast into the plan first
    (cameos/draw.py: the character its @handle names, or the next one, or a new one), and
    one with an id is named in the C2PA manifest's consent assertion. With `stills`, the
    clip's thumbnail (`<name>.thumbnail.webp`) and spritesheet (`<name>.spritesheet.jpg`)
    are written next to it too, from the frames they need, taken while encoding."""
    if plan is not None and base_plan is not None:
        raise ValueError("generate takes a plan or a base plan to remix, not both")
    if deployment is None:
        if settings is None:
            raise TypeError("generate needs the settings or a deployment to run in")
        deployment = Deployment(settings)
    settings = deployment.settings
    report = progress or no_progress
    timings: dict[str, float] = {}
    started = time.perf_counter()

    # 1. Check everything that can be checked before work starts.
    video_path = check_output_path(output_path)
    sidecar_path = video_path.with_suffix(".json")
    engine = get_engine(request.engine, settings)
    capabilities = engine.capabilities
    check_request(
        engine.name,
        capabilities,
        seconds=request.seconds,
        size=request.size,
        fps=request.fps,
        input_reference=request.input_reference is not None,
        cameos=len(cameos),
        cameos_without_likeness=sum(cameo.likeness is None for cameo in cameos),
    )
    first_frame = None
    if request.input_reference is not None:
        try:
            first_frame = media.load_image(
                request.input_reference.read_bytes(), request.width, request.height
            )
        except (OSError, MediaError) as error:
            raise InvalidRequest(f"input_reference: {error}", param="input_reference") from None
    references = None
    if first_frame is not None or cameos:
        references = References(
            first_frame=first_frame,
            cameo_images=tuple(cameo.image for cameo in cameos),
            cameo_voices=tuple(cameo.voice for cameo in cameos),
        )
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)

    # 2. Prompt → ScenePlan + detailed caption.
    report("recaption", 0.0)
    t0 = time.perf_counter()
    if base_plan is not None:
        plan = remix_plan(base_plan, request.prompt, seed, settings, request.seconds)
    if plan is None:
        plan, caption = recaption(request.prompt, seed, settings, request.seconds)
    else:  # dialogue no longer than the clip holds, whoever made the plan (issue 21)
        plan = fit_plan_dialogue(plan, request.seconds)
        caption = detailed_caption(plan)
    if any(cameo.likeness is not None for cameo in cameos):
        from reelforge.cameos.draw import cast  # and the database models: only with cameos

        plan = cast(plan, cameos)  # the cameos' likenesses drawn into the plan's characters
        caption = detailed_caption(plan)
    timings["recaption_s"] = time.perf_counter() - t0
    report("recaption", RECAPTION_END)

    # 2b. The content policy, on the request: the prompt and the speech planned for it.
    t0 = time.perf_counter()
    policy = policy or deployment.policy
    requester = request.creator or DEFAULT_CREATOR
    planned = [line.text for character in plan.characters for line in character.lines]
    raise_for_decision(policy.check_request(request.prompt, requester=requester, speech=planned))
    timings["policy_s"] = time.perf_counter() - t0

    # 3. ScenePlan → Clip.
    t0 = time.perf_counter()
    timings["engine_start_s"] = t0 - started  # from this call to the engine's start
    report(engine.name, RECAPTION_END)  # engines report their own stages from here
    reached = [RECAPTION_END]  # the overall fraction the engine's progress got to

    def engine_progress(stage: str, fraction: float) -> None:
        reached[0] = RECAPTION_END + (ENGINE_END - RECAPTION_END) * fraction
        report(stage, reached[0])

    clip = engine.generate(
        plan,
        seconds=request.seconds,
        size=request.size,
        fps=request.fps,
        seed=seed,
        references=references,
        progress=engine_progress,
    )
    timings["engine_s"] = time.perf_counter() - t0

    # 3b. The content policy, on the clip: the final plan and what is actually said
    # (heard from its audio when the engine cannot say: a learned engine's speech).
    speech_source = "engine"
    if not clip.speech and engine.name not in SPEECH_KNOWN_ENGINES:
        t0 = time.perf_counter()
        clip.speech = transcribe(clip.audio, clip.sample_rate)
        speech_source = "transcribed (pocketsphinx)"
        timings["transcribe_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    transcript = [segment.text for segment in clip.speech]
    clip_decision = policy.check_clip(caption, transcript, requester=requester)
    raise_for_decision(clip_decision)
    timings["policy_s"] += time.perf_counter() - t0
    timings.update({f"engine.{k}": v for k, v in clip.timings_s.items()})

    # 4. Mark (visible + invisible), encode, sign, register: atomically.
    provenance = provenance or Provenance()
    t0 = time.perf_counter()
    identity = load_identity(settings)
    payload = new_payload()
    handle = _handle(request.creator) if settings.visible_watermark else None
    from reelforge.provenance.mark import mark_clip  # cv2: after the engine has run

    marks = mark_clip(clip, payload, identity.watermark_key, handle)
    timings["mark_s"] = time.perf_counter() - t0
    streamed = clip.frames if isinstance(clip.frames, FrameSource) else None
    encode_stage = "encode" if streamed is None else "render + encode"
    encode_from = reached[0]
    thumbnail_path = video_path.with_suffix(".thumbnail.webp") if stills else None
    spritesheet_path = video_path.with_suffix(".spritesheet.jpg") if stills else None
    taken = None
    if stills:
        from reelforge.media.images import Stills

        taken = Stills()
        taken.expect(clip.frame_count, clip.height, clip.width)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as files:
        video_tmp = files.enter_context(_atomic(video_path))
        sidecar_tmp = files.enter_context(_atomic(sidecar_path))
        unsigned = video_tmp.with_name(video_tmp.name + ".unsigned.mp4")
        try:
            media.encode_mp4(
                unsigned,
                clip.frames,
                marks.audio,
                clip.fps,
                marks.sample_rate,
                crf=settings.video_crf,
                preset=settings.video_preset,
                audio_bitrate=settings.audio_bitrate,
                progress=lambda f: report(encode_stage, encode_from + (0.99 - encode_from) * f),
                luma=marks.video.embed_luma,
                on_frame=taken.take if taken is not None else None,
            )
            timings["encode_s"] = time.perf_counter() - t0
            if streamed is not None:
                _count_streamed(timings, streamed)
            t0 = time.perf_counter()
            facts = ManifestFacts(
                title=video_path.name,
                payload=payload,
                duration_s=clip.duration_s,
                engine=engine.name,
                model=_model_of(engine),
                video_id=provenance.video_id,
                parent=provenance.parent,
                consent=consent_of(cameos, clip_decision.policy_version),
            )
            sign_mp4(unsigned, video_tmp, facts, identity)
        finally:
            unsigned.unlink(missing_ok=True)
        timings["sign_s"] = time.perf_counter() - t0
        registry = provenance.registry or deployment.registry
        registry.record(
            RegistryEntry(
                payload=payload_hex(payload),
                engine=engine.name,
                prompt_sha256=hashlib.sha256(request.prompt.encode()).hexdigest(),
                file_sha256=_sha256(video_tmp),
                video_id=provenance.video_id,
                creator=request.creator,
                parent_video_id=provenance.parent.video_id if provenance.parent else None,
            )
        )
        timings["total_s"] = time.perf_counter() - started
        sidecar = _sidecar(request, seed, engine.name, plan, caption, clip, timings)
        sidecar["speech_source"] = speech_source  # events.speech: the engine's or heard
        sidecar["provenance"] = {"watermark_payload": payload_hex(payload), "c2pa": True}
        if cameos:
            sidecar["cameos"] = len(cameos)
            if facts.consent is not None:
                sidecar["consent"] = facts.consent.assertion()
        sidecar_tmp.write_text(json.dumps(sidecar, indent=2))
        if taken is not None and thumbnail_path and spritesheet_path:
            files.enter_context(_atomic(thumbnail_path)).write_bytes(taken.thumbnail_webp())
            files.enter_context(_atomic(spritesheet_path)).write_bytes(taken.spritesheet_jpg())
    report("done", 1.0)
    return Result(
        request=request,
        seed=seed,
        plan=plan,
        caption=caption,
        clip=clip,
        video_path=video_path,
        sidecar_path=sidecar_path,
        timings_s=timings,
        thumbnail_path=thumbnail_path,
        spritesheet_path=spritesheet_path,
    )


def check_request(
    engine_name: str,
    capabilities: Capabilities,
    *,
    seconds: float,
    size: str,
    fps: int,
    input_reference: bool = False,
    cameos: int = 0,
    cameos_without_likeness: int = 0,
) -> None:
    """InvalidRequest naming the field unless engine `engine_name` can make this request.
    The one check of a request against an engine: `generate` runs it first, and the API
    runs it when a video is created, so nothing is stored for a job the engine would fail.
    `cameos` counts the cameos the clip casts, `cameos_without_likeness` those of them
    that bring only a reference image and voice (no likeness to draw)."""
    if size not in capabilities.sizes:
        raise InvalidRequest(
            f"size {size} is not supported by engine {engine_name}; "
            f"supported: {', '.join(capabilities.sizes)}",
            param="size",
        )
    if fps not in capabilities.fps:
        raise InvalidRequest(
            f"fps {fps} is not supported by engine {engine_name}; "
            f"supported: {', '.join(map(str, capabilities.fps))}",
            param="fps",
        )
    if seconds > capabilities.max_seconds:
        raise InvalidRequest(
            f"seconds must be at most {capabilities.max_seconds:g} for engine "
            f"{engine_name}, got {seconds:g}",
            param="seconds",
        )
    if input_reference and not capabilities.image_input:
        raise InvalidRequest(
            f"engine {engine_name} cannot start from an image (input_reference)",
            param="input_reference",
        )
    if not cameos:
        return
    if not capabilities.cameos:
        raise InvalidRequest(f"engine {engine_name} cannot take cameos", param="cameos")
    from reelforge.cameos.draw import MAX_CAST

    if cameos > MAX_CAST:
        raise InvalidRequest(
            f"cameos: a video casts at most {MAX_CAST}, got {cameos}", param="cameos"
        )
    if cameos_without_likeness and not capabilities.cameo_images:
        raise InvalidRequest(
            f"engine {engine_name} cannot take cameos without a likeness: it draws a "
            "verified cameo's likeness, not a reference image",
            param="cameos",
        )


def consent_of(cameos: tuple[CameoReference, ...], policy_version: str) -> Consent | None:
    """The C2PA consent assertion of a clip casting `cameos`: the verified ones (those
    with an id), the grant each was cast under, the policy's version. None: no such cameo."""
    verified = tuple(
        CameoConsent(
            cameo_id=cameo.cameo_id,
            handle=(cameo.handle or "").removeprefix("@"),
            grant=cameo.grant or "unknown",
        )
        for cameo in cameos
        if cameo.cameo_id is not None
    )
    return Consent(cameos=verified, policy_version=policy_version) if verified else None


@dataclass(frozen=True)
class Provenance:
    """What provenance needs beyond the request: the video's id and its parent (remixes,
    edits, extensions) for the C2PA manifest, and the registry to record the payload in."""

    video_id: str | None = None
    parent: Parent | None = None
    registry: Registry | None = None


def _model_of(engine: Engine) -> tuple[str, str] | None:
    """The published model an engine runs (its name and the weights' identity), if any:
    engines that run published weights declare `generator_name` and `generator_version`."""
    name = getattr(engine, "generator_name", None)
    version = getattr(engine, "generator_version", None)
    return (name, version) if isinstance(name, str) and isinstance(version, str) else None


def _count_streamed(timings: dict[str, float], frames: FrameSource) -> None:
    """Move the time spent drawing and marking streamed frames out of `encode_s`, to the
    engine (`engine.render_s` then holds the renderer's set-up plus the frames) and to
    `mark_s`."""
    timings["encode_s"] -= frames.render_s + frames.transform_s
    timings["engine.render_s"] = timings.get("engine.render_s", 0.0) + frames.render_s
    timings["engine_s"] += frames.render_s
    timings["mark_s"] += frames.transform_s


def _handle(creator: str | None) -> str:
    """The creator as the visible mark shows it: no spaces, at most 32 characters."""
    from reelforge.provenance.visible import MAX_HANDLE_CHARS  # cv2: after the engine

    name = "_".join((creator or "").strip().removeprefix("@").split())[:MAX_HANDLE_CHARS]
    return name or DEFAULT_CREATOR


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_path(path: Path) -> Path:
    """The absolute output path, or InvalidRequest naming `output` if it cannot be written."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".mp4":
        raise InvalidRequest(f"output must be an .mp4 file, got {str(path)!r}", param="output")
    if path.is_dir():
        raise InvalidRequest(f"output {str(path)!r} is a directory", param="output")
    parent = path.parent.resolve()
    if not parent.is_dir():
        raise InvalidRequest(f"output directory {str(parent)!r} does not exist", param="output")
    # Permission bits do not tell the whole story (root, read-only mounts): try it.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".check", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidRequest(
            f"output {str(path)!r} is not writable: {exc.strerror}", param="output"
        ) from None
    return parent / path.name


@contextlib.contextmanager
def _atomic(destination: Path) -> Iterator[Path]:
    """Yield a temporary path next to `destination`; rename it into place on success."""
    fd, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sidecar(
    request: Request,
    seed: int,
    engine: str,
    plan: ScenePlan,
    caption: str,
    clip: Clip,
    timings: dict[str, float],
) -> dict[str, object]:
    return {
        "reelforge_version": __version__,
        "prompt": request.prompt,
        "engine": engine,
        "seed": seed,
        "requested_seconds": request.seconds,
        "input_reference": request.input_reference is not None,
        "seconds": clip.duration_s,
        "size": f"{clip.width}x{clip.height}",
        "fps": clip.fps,
        "frame_count": clip.frame_count,
        "sample_rate": clip.sample_rate,
        "caption": caption,
        "plan": plan.model_dump(mode="json"),
        "understood": understood(plan).as_dict(),
        "events": {
            "contacts": [asdict(c) for c in clip.contacts],
            "sounds": [asdict(e) for e in clip.sounds],
            "speech": [asdict(s) for s in clip.speech],
            "mouth_boxes_px": clip.mouth_boxes_px,
        },
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
