"""One function runs the whole chain from a request to files on disk.

    request → recaption → engine.generate → media.encode → MP4 + JSON sidecar

Safety checks and provenance (policy, watermarks, C2PA) slot in around the engine call
when they land; the CLI, the job worker and the tests all call `generate` and nothing
re-implements a step of it.

Outputs are written to temporary files next to their destination and renamed into place
only when complete, so a failure or an interrupt never leaves a partial file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from reelforge import __version__
from reelforge.engines import References, get_engine
from reelforge.errors import InvalidRequest, MediaError
from reelforge.media import encode_mp4, load_image
from reelforge.recaption import detailed_caption, recaption
from reelforge.settings import Settings
from reelforge.types import Clip, Progress, Request, Result, ScenePlan, no_progress

# Share of the progress bar each stage takes.
RECAPTION_END, ENGINE_END = 0.04, 0.82


def generate(
    request: Request,
    output_path: Path,
    *,
    progress: Progress | None = None,
    settings: Settings | None = None,
    plan: ScenePlan | None = None,
) -> Result:
    """Generate `request` into `output_path` (+ a JSON sidecar). With `plan`, recaptioning
    is skipped and that plan is rendered (remixes, edits, extensions)."""
    settings = settings or Settings()
    report = progress or no_progress
    timings: dict[str, float] = {}
    started = time.perf_counter()

    # 1. Check everything that can be checked before work starts.
    video_path = check_output_path(output_path)
    sidecar_path = video_path.with_suffix(".json")
    engine = get_engine(request.engine, settings)
    capabilities = engine.capabilities
    if request.size not in capabilities.sizes:
        raise InvalidRequest(
            f"size {request.size} is not supported by engine {engine.name}; "
            f"supported: {', '.join(capabilities.sizes)}",
            param="size",
        )
    if request.fps not in capabilities.fps:
        raise InvalidRequest(
            f"fps {request.fps} is not supported by engine {engine.name}", param="fps"
        )
    if request.seconds > capabilities.max_seconds:
        raise InvalidRequest(
            f"seconds must be at most {capabilities.max_seconds:g} for engine "
            f"{engine.name}, got {request.seconds:g}",
            param="seconds",
        )
    references = None
    if request.input_reference is not None:
        if not capabilities.image_input:
            raise InvalidRequest(
                f"engine {engine.name} cannot start from an image (input_reference)",
                param="input_reference",
            )
        try:
            first_frame = load_image(
                request.input_reference.read_bytes(), request.width, request.height
            )
        except (OSError, MediaError) as error:
            raise InvalidRequest(f"input_reference: {error}", param="input_reference") from None
        references = References(first_frame=first_frame)
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)

    # 2. Prompt → ScenePlan + detailed caption.
    report("recaption", 0.0)
    t0 = time.perf_counter()
    if plan is None:
        plan, caption = recaption(request.prompt, seed, settings)
    else:
        caption = detailed_caption(plan)
    timings["recaption_s"] = time.perf_counter() - t0
    report("recaption", RECAPTION_END)

    # 3. ScenePlan → Clip.
    t0 = time.perf_counter()
    clip = engine.generate(
        plan,
        seconds=request.seconds,
        size=request.size,
        fps=request.fps,
        seed=seed,
        references=references,
        progress=lambda stage, f: report(stage, RECAPTION_END + (ENGINE_END - RECAPTION_END) * f),
    )
    timings["engine_s"] = time.perf_counter() - t0
    timings.update({f"engine.{k}": v for k, v in clip.timings_s.items()})

    # 4. Encode and write, atomically.
    t0 = time.perf_counter()
    with _atomic(video_path) as video_tmp, _atomic(sidecar_path) as sidecar_tmp:
        encode_mp4(
            video_tmp,
            clip.frames,
            clip.audio,
            clip.fps,
            clip.sample_rate,
            crf=settings.video_crf,
            preset=settings.video_preset,
            audio_bitrate=settings.audio_bitrate,
            progress=lambda f: report("encode", ENGINE_END + (0.99 - ENGINE_END) * f),
        )
        timings["encode_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - started
        sidecar = _sidecar(request, seed, engine.name, plan, caption, clip, timings)
        sidecar_tmp.write_text(json.dumps(sidecar, indent=2))
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
    )


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
        "events": {
            "contacts": [asdict(c) for c in clip.contacts],
            "speech": [asdict(s) for s in clip.speech],
            "mouth_boxes_px": clip.mouth_boxes_px,
        },
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
